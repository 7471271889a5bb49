/**
 * `npm start`: the whole platform on this machine, from the same definitions as a real environment.
 *
 * 1. Synthesizes the default example environment (`stacks/main.ts`) into `.tollgate-local/cdktf.out`.
 * 2. Reads the dev stack's Okta resources from its `cdk.tf.json` and starts a local authorization server
 *    (oidc-provider) with the same clients, grant types, scopes and audience.
 * 3. Starts the local LLM stand-in (OpenAI and Anthropic wire formats; echoes the last user message) and the
 *    tickets REST service (./tickets-service.ts), whose OpenAPI operations the gateway serves as `tickets__*` tools.
 * 4. Writes the local overlay (`.tollgate-local/overlay.json`): values for the bundle's apply-time
 *    placeholders, real MCP servers (server-memory, server-filesystem) in place of the example's
 *    upstreams, and the LLM providers pointed at the stand-in. The synthesized bundle is not edited.
 * 5. Runs `tollgate serve --bundle <synthesized bundle> --overlay <overlay>` on 127.0.0.1:8080 (`PORT`).
 * 6. Writes `.tollgate-local/state.json` for `tollgate dev token`, prints the URLs and commands.
 * The admin port (`/metrics`, and the operator console when the bundle enables it) is $TOLLGATE_METRICS_PORT or
 * 9464; the local authorization server knows the console's client (`tollgate-console`, public, its redirect on
 * that port) and a user `admin` who is granted `tollgate:admin`.
 * Ctrl-C (or SIGTERM) stops the gateway's process group (its MCP servers included) and the stand-ins.
 *
 * `startLocalPlatform()` does the same from code (the end-to-end test uses it with ephemeral ports).
 */
import { randomBytes } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Overlay, listPlaceholders } from "../../policies/bundle/index.js";
import { TOKEN_EXCHANGE_GRANT } from "../../policies/oauth/index.js";
import { type AuthClient, type AuthGrant, type AuthServer, startAuthServer } from "./auth-server.js";
import { freePort } from "./free-port.js";
import { type LlmUpstream, startLlmUpstream } from "./llm-upstream.js";
import { type TicketsService, startTicketsService } from "./tickets-service.js";
import {
  LOCAL_LLM_KEY_ENV,
  type LocalMcpServer,
  assignMcpServers,
  buildLocalOverlay,
  localPlaceholderValue,
} from "./local-overlay.js";
import {
  type LocalClient,
  type OktaConfig,
  agentClients,
  readOktaConfig,
  serviceClient,
  userClient,
} from "./okta-resources.js";
import { type ManagedChild, spawnNodeGroup, stopGroup } from "./processes.js";
import {
  DEFAULT_STATE_DIR,
  type LocalState,
  type LocalStateClient,
  STATE_FILE,
  removeState,
  writeState,
} from "./state.js";
import { REPO_ROOT, type SynthOutput, findStack, synthesize } from "./synth.js";

export interface LocalPlatformOptions {
  /**
   * Gateway port on 127.0.0.1; 0 picks a free one.
   * @default $PORT, else 8080
   */
  readonly port?: number;
  /**
   * Where synth output, the overlay and the state file go.
   * @default `.tollgate-local` in the current directory
   */
  readonly stateDir?: string;
  /**
   * The synthesized stack to run.
   * @default the stack whose name ends in `dev`
   */
  readonly stack?: string;
  /** Every line the gateway writes (stdout and stderr), e.g. to echo it to the terminal. */
  readonly onGatewayLine?: (line: string, stream: "stdout" | "stderr") => void;
  /**
   * Users who can log in to the local authorization server; `admin` (the console's administrator) is always added.
   * @default ["alice", "bob"]
   */
  readonly users?: readonly string[];
  /**
   * The gateway's admin port (/metrics, the console) on 127.0.0.1; 0 picks a free one.
   * @default $TOLLGATE_METRICS_PORT, else 9464
   */
  readonly adminPort?: number;
  /** How long to wait for the gateway to become ready. @default 60000 */
  readonly readyTimeoutMs?: number;
  /** Aborting it during start stops what was started so far and rejects (Ctrl-C while starting). */
  readonly signal?: AbortSignal;
}

export interface LocalPlatform {
  readonly stack: string;
  readonly gatewayUrl: string;
  readonly mcpUrl: string;
  /** `http://127.0.0.1:<admin port>`: /metrics, and the console under /console/ (undefined: no admin server). */
  readonly adminUrl: string | undefined;
  /** The console's address, when the bundle enables it and it answers. */
  readonly consoleUrl: string | undefined;
  readonly issuer: string;
  readonly audience: string;
  readonly bundlePath: string;
  readonly overlayPath: string;
  readonly statePath: string;
  /** The synthesized bundle as read (placeholders included). */
  readonly bundle: Record<string, unknown>;
  readonly overlay: Overlay;
  readonly okta: OktaConfig;
  /** Local clients as registered (with their throw-away secrets). */
  readonly clients: readonly LocalStateClient[];
  readonly users: readonly string[];
  /** Which real MCP server stands in for each upstream of the example. */
  readonly mcpServers: Readonly<Record<string, LocalMcpServer>>;
  /** Throw-away directory of the MCP servers' state. */
  readonly workDir: string;
  readonly authServer: AuthServer;
  readonly llmUpstream: LlmUpstream;
  /** The local tickets REST service (the `tickets` OpenAPI upstream points at it). */
  readonly ticketsService: TicketsService;
  /** The `tollgate serve` child (leader of its own process group). */
  readonly gateway: ManagedChild;
  /** Audit events the gateway has written so far (parsed JSON lines). */
  auditEvents(): readonly Record<string, unknown>[];
  /** Every line the gateway has written so far, stdout and stderr (for leak checks). */
  outputLines(): readonly string[];
  /**
   * Resolves with the first audit event (already written or still to come) that matches; rejects after
   * `timeoutMs`. The gateway writes audit lines in batches, a moment after the decision.
   */
  waitForAudit(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves when the gateway exits, for whatever reason. */
  readonly gatewayExited: ManagedChild["exited"];
  /** Stops everything; idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_USERS = ["alice", "bob"] as const;
/** The console's OAuth client at the local authorization server (public: authorization code + PKCE). */
export const CONSOLE_CLIENT_ID = "tollgate-console";
/** The scope that makes a console administrator, and the local user who is granted it. */
export const ADMIN_SCOPE = "tollgate:admin";
export const ADMIN_USER = "admin";
const DEFAULT_ADMIN_PORT = 9464;
/** How many gateway lines and audit events are kept in memory (a long `npm start` must not grow forever). */
const KEEP_LINES = 50_000;

function keep<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP_LINES) list.shift();
}

function toAuthGrant(grant: string): AuthGrant | undefined {
  if (grant === TOKEN_EXCHANGE_GRANT) return "token_exchange";
  return (["client_credentials", "authorization_code", "refresh_token"] as const).find((g) => g === grant);
}

/** A local client with the public keys to register for it (private_key_jwt), when it signs assertions. */
type LocalRegistration = LocalStateClient & { readonly publicJwks?: { readonly keys: readonly JWK[] } };

/**
 * Local registrations for the synthesized Okta apps: same ids-by-label, grants and scopes. An `Agent`'s app
 * authenticates as in Okta, with `private_key_jwt`: a throw-away key pair per start, the private JWK in a 0600 file
 * of `stateDir` (what `tollgate keygen` writes), the public one registered. The others get throw-away secrets
 * (OktaApps' agent app included: the overlay hands the gateway that secret for its upstream token exchange).
 */
async function localClients(okta: OktaConfig, stateDir: string): Promise<LocalRegistration[]> {
  return Promise.all(
    okta.clients.map(async (client: LocalClient): Promise<LocalRegistration> => {
      const confidential = client.tokenEndpointAuthMethod !== "none";
      const base = {
        clientId: client.clientId,
        grantTypes: client.grantTypes,
        // The MCP scopes the stack declares (the local server knows no profile/email claims).
        scopes: client.scopes.filter((s) => okta.scopes.some((known) => known.name === s)),
        // The local server never calls the redirect URI; the headless login only recognises it.
        redirectUris: client.redirectUris.length > 0 ? client.redirectUris : ["http://127.0.0.1/callback"],
        ...(client.agentId ? { agentId: client.agentId } : {}),
      };
      if (client.agentId && client.tokenEndpointAuthMethod === "private_key_jwt") {
        const { privateJwk, publicJwk } = await localKeyPair();
        const privateKeyFile = join(stateDir, `agent-${client.agentId}.private.jwk.json`);
        await rm(privateKeyFile, { force: true });
        await writeFile(privateKeyFile, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600, flag: "wx" });
        return { ...base, privateKeyFile, publicJwks: { keys: [publicJwk] } };
      }
      return { ...base, ...(confidential ? { clientSecret: `local-${randomBytes(18).toString("base64url")}` } : {}) };
    }),
  );
}

/** An ES256 key pair, as `tollgate keygen --alg ES256` makes one (kid: the public key's thumbprint). */
async function localKeyPair(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicPart = await exportJWK(publicKey);
  const meta = { kid: await calculateJwkThumbprint(publicPart), alg: "ES256", use: "sig" };
  return { privateJwk: { ...(await exportJWK(privateKey)), ...meta }, publicJwk: { ...publicPart, ...meta } };
}

/**
 * The audience local tokens carry: the local gateway URL when the bundle's audience is its public URL (the
 * overlay moves both there), else the bundle's own audience.
 */
function resolveAudience(bundle: Record<string, unknown>, gatewayUrl: string): string {
  const local = (value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    const names = listPlaceholders(value);
    return names.length === 0
      ? value
      : localPlaceholderValue(names[0] as string, {
          issuer: "",
          gatewayUrl,
          clientIds: {},
          llmUpstreamUrl: () => "",
          workDir: "",
        });
  };
  const audience = local((bundle.auth as { audiences?: string[] } | undefined)?.audiences?.[0]);
  if (!audience) throw new Error("the bundle has no auth.audiences");
  const publicUrl = local((bundle.server as { publicUrl?: string } | undefined)?.publicUrl);
  const strip = (u: string) => u.replace(/\/+$/, "");
  return publicUrl !== undefined && strip(audience) === strip(publicUrl) ? gatewayUrl : audience;
}

async function waitUntilReady(
  url: string,
  gateway: ManagedChild,
  stderr: string[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void gateway.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (exited) throw new Error(`the gateway exited during start:\n${stderr.slice(-30).join("\n")}`);
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the gateway did not become ready within ${timeoutMs} ms:\n${stderr.slice(-30).join("\n")}`);
}

/** $TOLLGATE_METRICS_PORT as `tollgate serve` reads it (a port, or "off" for none), else 9464. */
function adminPortFromEnv(value: string | undefined): number | "off" {
  if (value === "off") return "off";
  return value && /^\d{1,5}$/.test(value) && Number(value) <= 65_535 ? Number(value) : DEFAULT_ADMIN_PORT;
}

/** `<admin>/console/` when the gateway serves its console there (the bundle enables it), else undefined. */
async function consoleAt(adminUrl: string): Promise<string | undefined> {
  const url = `${adminUrl}/console/`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the local platform. Stop it with `stop()`. */
export async function startLocalPlatform(options: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  const stateDir = resolve(options.stateDir ?? process.env.TOLLGATE_LOCAL_DIR ?? DEFAULT_STATE_DIR);
  await mkdir(stateDir, { recursive: true });
  const requestedPort = options.port ?? Number(process.env.PORT ?? 8080);
  const port = requestedPort === 0 ? await freePort() : requestedPort;
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const users = [...new Set([...(options.users ?? DEFAULT_USERS), ADMIN_USER])];
  // Known before the gateway starts: the console's redirect URI, registered below, names it.
  const requestedAdminPort = options.adminPort ?? adminPortFromEnv(process.env.TOLLGATE_METRICS_PORT);
  const adminPort = requestedAdminPort === 0 ? await freePort() : requestedAdminPort;
  const adminUrl = adminPort === "off" ? undefined : `http://127.0.0.1:${adminPort}`;

  const outdir = join(stateDir, "cdktf.out");
  await synthesize(outdir);
  options.signal?.throwIfAborted();
  const synth: SynthOutput = await findStack(outdir, options.stack);
  const bundle = JSON.parse(await readFile(synth.bundlePath, "utf8")) as Record<string, unknown>;
  const okta = readOktaConfig(JSON.parse(await readFile(synth.cdkTfJsonPath, "utf8")));
  const audience = resolveAudience(bundle, gatewayUrl);
  const registrations = await localClients(okta, stateDir);
  const clients: LocalStateClient[] = registrations.map(({ publicJwks: _keys, ...client }) => client);

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const authServer = await startAuthServer({
      audience,
      scopes: [...new Set([...okta.scopes.map((s) => s.name), ADMIN_SCOPE])],
      users,
      ...(okta.accessTokenLifetimeMinutes ? { accessTokenTtlSeconds: okta.accessTokenLifetimeMinutes * 60 } : {}),
      clients: [
        ...registrations.map((c): AuthClient => ({
          clientId: c.clientId,
          ...(c.clientSecret ? { clientSecret: c.clientSecret } : {}),
          ...(c.publicJwks ? { jwks: c.publicJwks } : {}),
          grants: c.grantTypes.map(toAuthGrant).filter((g): g is AuthGrant => g !== undefined),
          scopes: c.scopes,
          redirectUris: c.redirectUris,
        })),
        {
          clientId: CONSOLE_CLIENT_ID,
          grants: ["authorization_code"],
          scopes: [ADMIN_SCOPE],
          redirectUris: [`${adminUrl ?? "http://127.0.0.1"}/console/callback`],
        },
      ],
    });
    cleanups.push(() => authServer.close());
    options.signal?.throwIfAborted();

    const llmUpstream = await startLlmUpstream();
    cleanups.push(() => llmUpstream.close());
    const ticketsService = await startTicketsService();
    cleanups.push(() => ticketsService.close());

    const workDir = await mkdtemp(join(tmpdir(), "tollgate-local-"));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    const mcpServers = assignMcpServers(bundle);
    for (const [id, server] of Object.entries(mcpServers)) {
      if (server !== "filesystem") continue;
      await mkdir(join(workDir, `${id}-files`), { recursive: true });
      await writeFile(
        join(workDir, `${id}-files`, "hello.txt"),
        "Hello from the local platform. This directory is deleted when npm start stops.\n",
      );
    }

    const clientIds: Record<string, string> = {};
    for (const client of okta.clients) {
      clientIds[client.resourceName] = client.clientId;
      clientIds[client.clientId] = client.clientId;
    }
    const agent = serviceClient(okta);
    const user = userClient(okta);
    if (agent) clientIds.agent = agent.clientId;
    if (user) clientIds.user = user.clientId;
    // `{{apply:okta.clients.agent-<id>.id}}`: each agent's own app (GatewayBundle.addAgent).
    for (const client of agentClients(okta)) clientIds[`agent-${client.agentId}`] = client.clientId;

    const primaries = new Set<string>();
    const overlay = buildLocalOverlay(bundle, {
      issuer: authServer.issuer,
      gatewayUrl,
      clientIds,
      workDir,
      restServices: { tickets: ticketsService.baseUrl },
      // One stand-in, one logical vendor per provider: the first provider of a route is "primary" (model
      // `fail-primary` makes it answer 529), the others are named after themselves.
      llmUpstreamUrl: (routeId, providerId) => {
        const isPrimary = !primaries.has(routeId);
        primaries.add(routeId);
        return `${llmUpstream.url}/${isPrimary ? "primary" : providerId}`;
      },
    });
    // The console on the admin port, signed in through the local authorization server's console client.
    if (adminUrl) overlay.console = { clientId: CONSOLE_CLIENT_ID, url: `${adminUrl}/console` };
    const overlayPath = join(stateDir, "overlay.json");
    await writeFile(overlayPath, `${JSON.stringify(overlay, null, 2)}\n`);

    const audit: Record<string, unknown>[] = [];
    const auditWaiters = new Set<(event: Record<string, unknown>) => void>();
    const output: string[] = [];
    const stderr: string[] = [];
    const gateway = spawnNodeGroup({
      name: "gateway",
      args: [
        join(REPO_ROOT, "bin/tollgate.mjs"),
        "serve",
        "--bundle",
        synth.bundlePath,
        "--overlay",
        overlayPath,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--metrics-port",
        String(adminPort),
      ],
      cwd: REPO_ROOT,
      env: { ...process.env, [LOCAL_LLM_KEY_ENV]: "tollgate-local-llm-key" },
      onStdoutLine: (line) => {
        keep(output, line);
        if (line.startsWith("{")) {
          try {
            const event = JSON.parse(line) as Record<string, unknown>;
            if (event.audit === true || event.msg === "audit") {
              keep(audit, event);
              for (const waiter of auditWaiters) waiter(event);
            }
          } catch {
            // not JSON
          }
        }
        options.onGatewayLine?.(line, "stdout");
      },
      onStderrLine: (line) => {
        keep(output, line);
        stderr.push(line);
        if (stderr.length > 200) stderr.shift();
        options.onGatewayLine?.(line, "stderr");
      },
    });
    cleanups.push(() => stopGroup(gateway));
    await waitUntilReady(gatewayUrl, gateway, stderr, options.readyTimeoutMs ?? 60_000, options.signal);
    const consoleUrl = adminUrl === undefined ? undefined : await consoleAt(adminUrl);

    const statePath = join(stateDir, STATE_FILE);
    const state: LocalState = {
      version: 1,
      pid: process.pid,
      issuer: authServer.issuer,
      tokenEndpoint: authServer.tokenEndpoint,
      audience,
      gatewayUrl,
      users,
      clients,
    };
    await writeState(statePath, state);
    cleanups.push(() => removeState(statePath));

    const mcpPath = ((bundle.mcp as { path?: string } | undefined)?.path ?? "/mcp").replace(/\/$/, "");
    let stopping: Promise<void> | undefined;
    return {
      stack: synth.stack,
      gatewayUrl,
      mcpUrl: `${gatewayUrl}${mcpPath}`,
      adminUrl,
      consoleUrl,
      issuer: authServer.issuer,
      audience,
      bundlePath: synth.bundlePath,
      overlayPath,
      statePath,
      bundle,
      overlay,
      okta,
      clients,
      users,
      mcpServers,
      workDir,
      authServer,
      llmUpstream,
      ticketsService,
      gateway,
      gatewayExited: gateway.exited,
      auditEvents: () => audit,
      outputLines: () => output,
      waitForAudit: (match, timeoutMs = 5_000) => {
        const seen = audit.find(match);
        if (seen) return Promise.resolve(seen);
        return new Promise((resolveEvent, reject) => {
          const timer = setTimeout(() => {
            auditWaiters.delete(waiter);
            reject(new Error(`no matching audit event within ${timeoutMs} ms`));
          }, timeoutMs);
          const waiter = (event: Record<string, unknown>) => {
            if (!match(event)) return;
            clearTimeout(timer);
            auditWaiters.delete(waiter);
            resolveEvent(event);
          };
          auditWaiters.add(waiter);
        });
      },
      stop: () => (stopping ??= cleanup()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** The banner `npm start` prints: URLs and copy-paste commands. */
export function describePlatform(platform: LocalPlatform): string {
  const cwd = process.cwd();
  const rel = (p: string) => relative(cwd, p) || p;
  const routes = (
    (platform.bundle.llm as { routes?: { pathPrefix: string; providers: { id: string }[] }[] } | undefined)?.routes ??
    []
  )
    .map((r) => `${r.pathPrefix}/v1 (${r.providers.map((p) => p.id).join(" → ")})`)
    .join(", ");
  const agent = platform.clients.find((c) => c.grantTypes.includes("client_credentials") && !c.agentId);
  const agents = platform.clients.filter((c) => c.agentId);
  const agentLines = agents
    .map(
      (c) =>
        `${c.agentId} (client ${c.clientId}, scopes ${c.scopes.join(" ")}, ${c.privateKeyFile ? "private_key_jwt" : "client secret"})`,
    )
    .join("; ");
  const upstreams = Object.entries(platform.mcpServers)
    .map(([id, server]) => `${id} → server-${server}`)
    .join(", ");
  const g = platform.gatewayUrl;
  const llmRoutes =
    (platform.bundle.llm as { routes?: { pathPrefix: string; providers: unknown[] }[] } | undefined)?.routes ?? [];
  const firstRoute = (llmRoutes.find((r) => r.pathPrefix === "/openai") ?? llmRoutes[0])?.pathPrefix ?? "/openai";
  const failoverRoute = llmRoutes.find((r) => r.providers.length > 1)?.pathPrefix ?? firstRoute;
  const memory = Object.entries(platform.mcpServers).find(([, server]) => server === "memory")?.[0];
  const writeCall = memory
    ? `npx tsx examples/local-platform/mcp-client.ts --token "$TOKEN" call ${memory}__create_entities '{"entities":[{"name":"demo","entityType":"note","observations":["hi"]}]}'   # 403: needs mcp:write
  npx tsx examples/local-platform/mcp-client.ts --token "$ALICE" call ${memory}__create_entities '{"entities":[{"name":"demo","entityType":"note","observations":["hi"]}]}'
  npx tsx examples/local-platform/mcp-client.ts --token "$ALICE" call ${memory}__delete_entities '{"entityNames":["demo"]}'   # always blocked`
    : `npx tsx examples/local-platform/mcp-client.ts --token "$ALICE" call <upstream>__<tool> '{}'`;
  return `
Tollgate local platform is up: stack ${platform.stack}, bundle ${rel(platform.bundlePath)}

  Gateway        ${g}   MCP ${platform.mcpUrl}   LLM ${routes}
  Authorization  ${platform.issuer}   (stands in for Okta; users: ${platform.users.join(", ")}; clients: ${platform.clients.map((c) => c.clientId).join(", ")})
  LLM stand-in   ${platform.llmUpstream.url}   (echoes the last user message it receives)
  MCP upstreams  ${upstreams}   (state in ${platform.workDir})
  Agents         ${agentLines || "none (the stack declares no Agent)"}
  REST (OpenAPI) tickets → ${platform.ticketsService.baseUrl}   (stacks/tickets.openapi.yaml: tickets__* tools)
  Overlay        ${rel(platform.overlayPath)}   (how the bundle is pointed at these stand-ins)
  ${
    platform.consoleUrl
      ? `Console        ${platform.consoleUrl}   (sign in: "Log in as ${ADMIN_USER}")`
      : `Console        off: ${platform.adminUrl ? "this bundle does not enable server.console" : "no admin port (TOLLGATE_METRICS_PORT=off)"}`
  }

Try it from another terminal:

  # a token for the agent (client credentials) and one for a user (authorization code + PKCE)
  TOKEN=$(npx tollgate dev token --scopes "mcp:read")${agent ? `        # client ${agent.clientId}` : ""}
  ALICE=$(npx tollgate dev token --user alice --scopes "mcp:read mcp:write")
${agents.map((c) => `  ${c.agentId!.toUpperCase().replace(/-/g, "_")}=$(npx tollgate dev token --agent ${c.agentId})        # agent ${c.agentId} alone: its own app, its own scopes`).join("\n")}

  # MCP through the gateway with the MCP SDK client: list the tools your scopes allow, call some
  npx tsx examples/local-platform/mcp-client.ts --token "$TOKEN" list
  ${writeCall}
  npx tsx examples/local-platform/mcp-client.ts --token "$ALICE" call tickets__createTicket '{"body":{"title":"Disk full on build-3"}}'
  npx tsx examples/local-platform/mcp-client.ts --token "$TOKEN" call tickets__listTickets '{"status":"open"}'

  # an LLM call (the SSN is redacted before it leaves the gateway)
  curl -s ${g}${firstRoute}/v1/chat/completions -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"My SSN is 123-45-6789"}]}'

  # failover: model "fail-primary" makes every route's first provider answer 529; see x-tollgate-provider
  curl -si ${g}${failoverRoute}/v1/chat/completions -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
    -d '{"model":"fail-primary","messages":[{"role":"user","content":"hello"}]}'

  # a garbage token: 401
  curl -si ${platform.mcpUrl} -H 'Authorization: Bearer garbage' -H 'content-type: application/json' -d '{}'

  # MCP Inspector (browser): URL ${platform.mcpUrl}, transport Streamable HTTP, header Authorization: Bearer <token>
  npx @modelcontextprotocol/inspector

More in the README ("A five-minute tour on the local platform").

Audit events are the JSON lines below. Ctrl-C stops everything.
`;
}

async function main(): Promise<void> {
  let platform: LocalPlatform | undefined;
  let shuttingDown = false;
  const starting = new AbortController();
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    process.stderr.write("\nstopping the local platform…\n");
    starting.abort(); // a start in progress stops what it started and rejects
    await platform?.stop();
    if (!platform) return; // main() exits once the start has unwound
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (shuttingDown && platform) process.exit(130); // a second Ctrl-C: give up waiting
      void shutdown(0);
    });
  }
  process.stderr.write("synthesizing the default environment (stacks/main.ts)…\n");
  try {
    platform = await startLocalPlatform({
      signal: starting.signal,
      onGatewayLine: (line, stream) => (stream === "stdout" ? process.stdout : process.stderr).write(`${line}\n`),
    });
  } catch (error) {
    if (shuttingDown) process.exit(0);
    process.stderr.write(`npm start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  if (shuttingDown) {
    await platform.stop();
    process.exit(0);
  }
  process.stdout.write(describePlatform(platform));
  void platform.gatewayExited.then(({ code, signal }) => {
    if (shuttingDown) return;
    process.stderr.write(`the gateway stopped unexpectedly (${signal ?? `exit ${code}`}); stopping the rest\n`);
    void shutdown(1);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
