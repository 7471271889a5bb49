/**
 * The local platform's state file (`.tollgate-local/state.json`): what `tollgate dev token` needs to find
 * the running local authorization server. It exists only while `npm start` runs.
 *
 * It holds the local clients' throw-away secrets (generated at each start, valid only against the local
 * stand-in, file mode 0600): a user needs them to obtain a client-credentials token. It never holds a
 * real Okta secret or a provider key.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";

export const DEFAULT_STATE_DIR = ".tollgate-local";
export const STATE_FILE = "state.json";

export interface LocalStateClient {
  readonly clientId: string;
  readonly grantTypes: readonly string[];
  readonly scopes: readonly string[];
  /** Local throw-away secret; absent for public clients and for clients that sign assertions. */
  readonly clientSecret?: string;
  /**
   * `private_key_jwt`: the file (mode 0600, next to this one) holding the client's throw-away private JWK, generated
   * at each start as `tollgate keygen` would; its public half is registered at the local authorization server.
   */
  readonly privateKeyFile?: string;
  /** The `Agent` whose app this is (`agents[].id` of the bundle). */
  readonly agentId?: string;
  readonly redirectUris: readonly string[];
}

export interface LocalState {
  readonly version: 1;
  /** Pid of the `npm start` process. */
  readonly pid: number;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly audience: string;
  readonly gatewayUrl: string;
  readonly users: readonly string[];
  readonly clients: readonly LocalStateClient[];
}

/** Where the state file lives: `$TOLLGATE_LOCAL_DIR/state.json`, else `.tollgate-local/state.json` in the cwd. */
export function stateFilePath(stateDir = process.env.TOLLGATE_LOCAL_DIR ?? DEFAULT_STATE_DIR): string {
  return resolve(stateDir, STATE_FILE);
}

export async function writeState(file: string, state: LocalState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** Reads the state file, with an error that says how to create it. */
export async function readState(file: string): Promise<LocalState> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new Error(`${file} not found: start the local platform first (npm start), or set TOLLGATE_LOCAL_DIR`);
  }
  const state = JSON.parse(text) as LocalState;
  if (state.version !== 1 || typeof state.issuer !== "string")
    throw new Error(`${file}: not a local platform state file`);
  return state;
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}
