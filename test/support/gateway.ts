/**
 * A real authorization server (the oidc-provider Okta stand-in) plus a real gateway serving a bundle
 * that trusts it, both on 127.0.0.1. The gateway's public URL is its real address, so protected resource
 * metadata and token audiences are what a client actually sees.
 *
 * ```ts
 * const platform = await startTestPlatform();
 * const token = await platform.token("reader");            // client credentials, scp = ["mcp:read"]
 * await fetch(platform.mcpUrl, { headers: { authorization: `Bearer ${token}` } });
 * await platform.close();
 * ```
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { freePort } from "../../examples/local-platform/free-port.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthClient, type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type BundleInput, withDigest } from "../../policies/bundle/index.js";
import { type ReloadOutcome, type RunningGateway, startGateway } from "../../runtime/server/index.js";
import { type AuditEvent, createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { sampleBundle } from "./sample-bundle.js";

/** Clients of the test authorization server, by role. Secrets are test-only values. */
export const TEST_CLIENTS = {
  reader: {
    clientId: "reader-agent",
    clientSecret: "reader-agent-secret",
    grants: ["client_credentials"],
    scopes: ["mcp:read"],
  },
  writer: {
    clientId: "writer-agent",
    clientSecret: "writer-agent-secret",
    grants: ["client_credentials"],
    scopes: ["mcp:read", "mcp:write"],
  },
  admin: {
    clientId: "admin-agent",
    clientSecret: "admin-agent-secret",
    grants: ["client_credentials"],
    scopes: ["mcp:read", "mcp:write", "mcp:admin"],
  },
  /** An agent acting for users: exchanges their tokens (RFC 8693). */
  delegate: {
    clientId: "delegate-agent",
    clientSecret: "delegate-agent-secret",
    grants: ["client_credentials", "token_exchange"],
  },
  /** A CLI or IDE: public client, authorization code + PKCE, refresh tokens. */
  cli: { clientId: "tollgate-cli", grants: ["authorization_code", "refresh_token"] },
} as const satisfies Record<string, AuthClient>;
export type TestClientRole = keyof typeof TEST_CLIENTS;

/** Values for the secret references of {@link sampleBundle} (fake keys; the stand-ins accept anything). */
export const TEST_SECRET_ENV: Readonly<Record<string, string>> = {
  OPENAI_API_KEY: "test-openai-key",
  ANTHROPIC_API_KEY: "test-anthropic-key",
  GITHUB_TOKEN: "test-github-token",
};

/**
 * The sample bundle pointed at `issuer` and served at `publicUrl`, without upstreams or LLM routes:
 * what authentication tests need (an MCP endpoint that answers `initialize` once a caller is let in).
 */
export function authTestBundle(issuer: string, publicUrl: string): BundleInput {
  const bundle = sampleBundle({ issuer, publicUrl });
  return {
    ...bundle,
    llm: { routes: [] },
    mcp: { path: "/mcp", policy: "default", upstreams: [], grants: [], deny: [], alwaysBlocked: [] },
  };
}

export { freePort };

export interface TestPlatformOptions {
  /** Changes the bundle (it gets the issuer and public URL already filled in). */
  readonly bundle?: (bundle: BundleInput, ctx: { issuer: string; publicUrl: string }) => BundleInput;
  /** Serve from files in a temp dir (to test watching and reload) instead of in memory. */
  readonly files?: boolean;
  readonly env?: Readonly<Record<string, string>>;
  readonly extraClients?: readonly AuthClient[];
  readonly exchangeAudiences?: readonly string[];
  readonly shutdownGraceMs?: number;
}

export interface TestPlatform {
  readonly as: AuthServer;
  readonly gateway: RunningGateway;
  /** The gateway's base URL (= its public URL and the token audience). */
  readonly url: string;
  readonly mcpUrl: string;
  readonly audit: AuditEvent[];
  /** The bundle file, when served from files. */
  readonly bundleFile: string | undefined;
  /** Resolves with the next reload outcome (watch-triggered or not). */
  nextReload(): Promise<ReloadOutcome>;
  /** A client-credentials token for a test client role, with its default scopes unless given. */
  token(role: Exclude<TestClientRole, "cli">, scopes?: readonly string[]): Promise<string>;
  /** A user token from authorization code + PKCE (client `tollgate-cli`). */
  userToken(user: string, scopes?: readonly string[]): Promise<string>;
  close(): Promise<void>;
}

export async function startTestPlatform(options: TestPlatformOptions = {}): Promise<TestPlatform> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const as = await startAuthServer({
    audience: url,
    scopes: ["mcp:read", "mcp:write", "mcp:admin"],
    clients: [...Object.values(TEST_CLIENTS), ...(options.extraClients ?? [])],
    ...(options.exchangeAudiences ? { exchangeAudiences: options.exchangeAudiences } : {}),
  });
  let bundle = authTestBundle(as.issuer, url);
  if (options.bundle) bundle = options.bundle(bundle, { issuer: as.issuer, publicUrl: url });

  let dir: string | undefined;
  let bundleFile: string | undefined;
  if (options.files) {
    dir = await mkdtemp(join(tmpdir(), "tollgate-test-"));
    bundleFile = join(dir, "bundle.json");
    await writeFile(bundleFile, JSON.stringify(withDigest(bundle), null, 2));
  }

  const audit = createMemoryAuditLog();
  let reloadWaiters: ((o: ReloadOutcome) => void)[] = [];
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({
      source: bundleFile ? { kind: "files", bundleFile } : { kind: "inline", bundle },
      port,
      env: { ...TEST_SECRET_ENV, ...options.env },
      audit,
      log: () => undefined,
      ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
      onReload: (outcome) => {
        const waiters = reloadWaiters;
        reloadWaiters = [];
        for (const w of waiters) w(outcome);
      },
    });
  } catch (error) {
    await as.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    as,
    gateway,
    url,
    mcpUrl: `${url}/mcp`,
    audit: audit.events,
    bundleFile,
    nextReload: () => new Promise((resolve) => reloadWaiters.push(resolve)),
    async token(role, scopes) {
      const client = TEST_CLIENTS[role];
      const granted = scopes ?? ("scopes" in client ? client.scopes : []);
      return (
        await as.clientCredentials({ clientId: client.clientId, clientSecret: client.clientSecret, scopes: granted })
      ).access_token;
    },
    async userToken(user, scopes = ["mcp:read"]) {
      return (await as.obtainTokenWithPkce({ user, clientId: TEST_CLIENTS.cli.clientId, scopes })).access_token;
    },
    async close() {
      await gateway.close();
      await as.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An MCP `initialize` request body (what a client sends first). */
export function initializeRequest(id: number | string = 1): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "tollgate-test", version: "0" } },
  });
}

/** Headers of a streamable-HTTP MCP POST. */
export function mcpHeaders(token?: string): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
}
