/**
 * `tollgate dev token`: a real access token from the local authorization server that `npm start` runs,
 * for curl, the MCP Inspector or an SDK.
 *
 *   TOKEN=$(npx tollgate dev token --scopes "mcp:read")                 # client credentials (the agent service)
 *   TOKEN=$(npx tollgate dev token --user alice --scopes "mcp:read")    # authorization code + PKCE, logged in as alice
 *   TOKEN=$(npx tollgate dev token --agent triage)                      # the triage agent alone (private_key_jwt)
 *
 * It finds the running platform through its state file (`.tollgate-local/state.json`, or
 * `$TOLLGATE_LOCAL_DIR/state.json`, or `--state <file>`). The token goes to stdout alone; a summary of
 * its claims goes to stderr. The state file format is written by examples/local-platform/state.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { isOidcScope } from "../../policies/oauth/index.js";
import { ClientAssertionSigner, JWT_BEARER_ASSERTION_TYPE } from "../mcp/credentials.js";
import { parseCommandArgs } from "./args.js";
import { decodeClaims } from "./jwt-claims.js";

/** What `npm start` writes for this command (examples/local-platform/state.ts). */
interface LocalState {
  readonly version: 1;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly audience: string;
  readonly gatewayUrl: string;
  readonly users: readonly string[];
  readonly clients: readonly {
    readonly clientId: string;
    readonly grantTypes: readonly string[];
    readonly scopes: readonly string[];
    readonly clientSecret?: string;
    /** private_key_jwt: the file holding the client's private JWK. */
    readonly privateKeyFile?: string;
    /** The bundle's agent this client is. */
    readonly agentId?: string;
    readonly redirectUris: readonly string[];
  }[];
}
type LocalClient = LocalState["clients"][number];

const USAGE = `usage: tollgate dev token [--user <name>] [--scopes "<scope> ..."] [--client <client id> | --agent <agent id>] [--state <state.json>] [--json]

A real access token from the local authorization server that \`npm start\` runs.
  --user <name>       log in as this local user (authorization code + PKCE); without it, client credentials
  --scopes "<s> ..."  scopes to request (space-separated); default: all the client's scopes
  --client <id>       the local client to use; default: the first one allowed the grant
  --agent <id>        the client of this agent (the bundle's agents[].id), e.g. triage; default scopes: its own
  --state <file>      the platform's state file; default: $TOLLGATE_LOCAL_DIR/state.json or .tollgate-local/state.json
  --json              print the whole token response and decoded claims instead of the token alone
exit codes: 0 token printed, 1 the platform refused or is not running, 2 usage`;

class DevTokenError extends Error {}

async function readState(file: string): Promise<LocalState> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DevTokenError(
      `${file} not found: start the local platform first (npm start), or pass --state / set TOLLGATE_LOCAL_DIR`,
    );
  }
  const state = JSON.parse(text) as LocalState;
  if (state.version !== 1 || typeof state.tokenEndpoint !== "string")
    throw new DevTokenError(`${file}: not a local platform state file`);
  return state;
}

function pickClient(state: LocalState, grant: string, requested: string | undefined): LocalClient {
  const candidates = state.clients.filter((c) => c.grantTypes.includes(grant));
  // By default not an agent's own app: those are asked for by --agent.
  const client = requested
    ? state.clients.find((c) => c.clientId === requested)
    : (candidates.find((c) => c.agentId === undefined) ?? candidates[0]);
  if (!client) {
    throw new DevTokenError(
      requested
        ? `unknown client "${requested}"; local clients: ${state.clients.map((c) => c.clientId).join(", ")}`
        : `no local client may use the ${grant} grant; local clients: ${state.clients.map((c) => `${c.clientId} (${c.grantTypes.join(", ")})`).join("; ")}`,
    );
  }
  if (!client.grantTypes.includes(grant)) {
    throw new DevTokenError(
      `client "${client.clientId}" may not use the ${grant} grant (it has: ${client.grantTypes.join(", ")}); choose another --client`,
    );
  }
  return client;
}

async function tokenRequest(
  state: LocalState,
  client: LocalClient,
  form: Record<string, string | undefined>,
): Promise<Record<string, unknown>> {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) if (value !== undefined) body.set(key, value);
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (client.privateKeyFile !== undefined) {
    body.set("client_id", client.clientId);
    body.set("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
    body.set("client_assertion", await assertionFor(client, client.privateKeyFile, state.tokenEndpoint));
  } else if (client.clientSecret === undefined) body.set("client_id", client.clientId);
  else
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString("base64")}`;
  let response: Response;
  try {
    response = await fetch(state.tokenEndpoint, { method: "POST", headers, body });
  } catch {
    throw new DevTokenError(
      `cannot reach the local authorization server at ${state.issuer}: is npm start still running?`,
    );
  }
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    throw new DevTokenError(
      `the authorization server refused: ${String(json.error)}${json.error_description ? ` (${String(json.error_description)})` : ""}`,
    );
  }
  return json;
}

/** A private_key_jwt assertion signed with the key the local platform generated for the client. */
async function assertionFor(client: LocalClient, file: string, tokenEndpoint: string): Promise<string> {
  let key: string;
  try {
    key = await readFile(file, "utf8");
  } catch {
    throw new DevTokenError(`client "${client.clientId}": its key ${file} is gone: restart the local platform`);
  }
  return new ClientAssertionSigner(key, {}, `client ${client.clientId}`).sign(client.clientId, tokenEndpoint);
}

/** The client of `--agent <id>`. */
function agentClient(state: LocalState, agentId: string): string {
  const client = state.clients.find((c) => c.agentId === agentId);
  if (!client) {
    const agents = state.clients.flatMap((c) => (c.agentId ? [c.agentId] : []));
    throw new DevTokenError(`unknown agent "${agentId}"; local agents: ${agents.join(", ") || "none"}`);
  }
  return client.clientId;
}

/** Authorization code + PKCE without a browser: the local server logs `user` in from `login_hint`. */
async function pkceToken(
  state: LocalState,
  client: LocalClient,
  user: string,
  scopes: string | undefined,
): Promise<Record<string, unknown>> {
  if (!state.users.includes(user))
    throw new DevTokenError(`unknown user "${user}"; local users: ${state.users.join(", ")}`);
  const verifier = randomBytes(32).toString("base64url");
  const redirectUri = client.redirectUris[0] ?? "http://127.0.0.1/callback";
  const stateParam = randomBytes(8).toString("hex");
  const auth = new URL(`${state.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: scopes ?? client.scopes.join(" "),
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state: stateParam,
    resource: state.audience,
    login_hint: user,
  }).toString();
  const cookies = new Map<string, string>();
  let next = auth.toString();
  for (let hop = 0; hop < 10; hop++) {
    if (next.startsWith(redirectUri)) {
      const callback = new URL(next);
      const error = callback.searchParams.get("error");
      if (error)
        throw new DevTokenError(
          `the authorization server refused: ${error} (${callback.searchParams.get("error_description") ?? ""})`,
        );
      const code = callback.searchParams.get("code");
      if (!code || callback.searchParams.get("state") !== stateParam)
        throw new DevTokenError("the authorization callback carried no code for this request");
      return tokenRequest(state, client, {
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
    }
    const response = await fetch(next, {
      redirect: "manual",
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(";")[0] ?? "";
      const eq = pair.indexOf("=");
      if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = response.headers.get("location");
    const text = await response.text();
    if (!location)
      throw new DevTokenError(`login stopped at ${new URL(next).pathname} (${response.status}): ${text.slice(0, 200)}`);
    next = new URL(location, next).toString();
  }
  throw new DevTokenError("login redirected too many times");
}

/** `tollgate dev <subcommand>`; only `token` exists. */
export async function devCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (sub !== "token") {
    console.error(`tollgate dev: unknown subcommand "${sub ?? ""}"\n${USAGE}`);
    return 2;
  }
  const parsed = parseCommandArgs(
    "dev token",
    rest,
    {
      user: { type: "string" },
      scopes: { type: "string" },
      client: { type: "string" },
      agent: { type: "string" },
      state: { type: "string" },
      json: { type: "boolean", default: false },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  if (parsed.positionals.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const { user, json } = parsed.values;
  if (parsed.values.client && parsed.values.agent) {
    console.error(`tollgate dev token: --client or --agent, not both\n${USAGE}`);
    return 2;
  }
  const stateFile = parsed.values.state ?? resolve(process.env.TOLLGATE_LOCAL_DIR ?? ".tollgate-local", "state.json");
  try {
    const state = await readState(stateFile);
    const clientId = parsed.values.agent ? agentClient(state, parsed.values.agent) : parsed.values.client;
    // An agent asks for its whole ceiling unless told otherwise.
    const scopes =
      parsed.values.scopes ??
      (parsed.values.agent ? state.clients.find((c) => c.clientId === clientId)?.scopes.join(" ") : undefined);
    const response = user
      ? await pkceToken(state, pickClient(state, "authorization_code", clientId), user, scopes)
      : await tokenRequest(state, pickClient(state, "client_credentials", clientId), {
          grant_type: "client_credentials",
          scope: scopes,
          resource: state.audience,
        });
    const token = String(response.access_token);
    const claims = decodeClaims(token);
    const granted = new Set(Array.isArray(claims.scp) ? (claims.scp as string[]) : []);
    const missing = (scopes ?? "").split(" ").filter((s) => s && !isOidcScope(s) && !granted.has(s));
    if (missing.length > 0) {
      throw new DevTokenError(
        `the authorization server did not grant ${missing.join(" ")} (granted: ${[...granted].join(" ") || "none"}); check the scope names the stack declares (McpScopes)`,
      );
    }
    if (json) {
      console.log(JSON.stringify({ ...response, claims }, null, 2));
    } else {
      console.log(token);
      const exp = typeof claims.exp === "number" ? new Date(claims.exp * 1000).toISOString() : "?";
      console.error(
        `token for sub=${String(claims.sub)} cid=${String(claims.cid)} scp=${JSON.stringify(claims.scp)} aud=${String(claims.aud)} expires ${exp}`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof DevTokenError) {
      console.error(`tollgate dev token: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
