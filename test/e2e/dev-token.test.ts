/**
 * `tollgate dev token` against the real local authorization server (oidc-provider), run as the CLI a
 * user types, finding the server through a state file written by the local platform's own writer.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { TOKEN_EXCHANGE_GRANT } from "../../policies/oauth/index.js";
import { type LocalState, writeState } from "../../examples/local-platform/state.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const AUDIENCE = "http://127.0.0.1:18080";

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
}

async function devToken(
  statePath: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(ROOT, "bin/tollgate.mjs"), "dev", "token", "--state", statePath, ...args],
      { cwd: ROOT },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("tollgate dev token", () => {
  let auth: AuthServer;
  let dir: string;
  let statePath: string;
  const agentSecret = "local-test-secret-not-real";

  beforeAll(async () => {
    auth = await startAuthServer({
      audience: AUDIENCE,
      scopes: ["mcp:read", "mcp:write", "mcp:admin"],
      clients: [
        {
          clientId: "tollgate-dev-agents",
          clientSecret: agentSecret,
          grants: ["client_credentials", "token_exchange"],
        },
        {
          clientId: "tollgate-dev-users",
          grants: ["authorization_code", "refresh_token"],
          redirectUris: ["http://127.0.0.1:8976/callback"],
        },
      ],
    });
    dir = await mkdtemp(join(tmpdir(), "tollgate-devtoken-"));
    statePath = join(dir, "state.json");
    const state: LocalState = {
      version: 1,
      pid: process.pid,
      issuer: auth.issuer,
      tokenEndpoint: auth.tokenEndpoint,
      audience: AUDIENCE,
      gatewayUrl: AUDIENCE,
      users: ["alice", "bob"],
      clients: [
        {
          clientId: "tollgate-dev-agents",
          clientSecret: agentSecret,
          grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT],
          scopes: ["mcp:read", "mcp:write", "mcp:admin"],
          redirectUris: [],
        },
        {
          clientId: "tollgate-dev-users",
          grantTypes: ["authorization_code", "refresh_token"],
          scopes: ["mcp:read", "mcp:write", "mcp:admin"],
          redirectUris: ["http://127.0.0.1:8976/callback"],
        },
      ],
    };
    await writeState(statePath, state);
  });

  afterAll(async () => {
    await auth?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints a client-credentials token for the agent with the requested scopes, the gateway audience and an expiry", async () => {
    const result = await devToken(statePath, "--scopes", "mcp:read");
    expect(result.code, result.stderr).toBe(0);
    const token = result.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const claims = claimsOf(token);
    expect(claims.iss).toBe(auth.issuer);
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.scp).toEqual(["mcp:read"]);
    expect(claims.cid).toBe("tollgate-dev-agents");
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
    expect(result.stderr).toContain('scp=["mcp:read"]');
    expect(result.stderr).not.toContain(token);
  });

  it("logs a named user in through authorization code + PKCE: sub is the user, cid the user app", async () => {
    const result = await devToken(statePath, "--user", "alice", "--scopes", "mcp:read mcp:write");
    expect(result.code, result.stderr).toBe(0);
    const claims = claimsOf(result.stdout.trim());
    expect(claims.sub).toBe("alice");
    expect(claims.cid).toBe("tollgate-dev-users");
    expect(claims.aud).toBe(AUDIENCE);
    expect(claims.scp).toEqual(expect.arrayContaining(["mcp:read", "mcp:write"]));
    expect(claims.scp).not.toContain("mcp:admin");
  });

  it("refuses an unknown user, naming the known ones", async () => {
    const result = await devToken(statePath, "--user", "mallory");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown user "mallory"');
    expect(result.stderr).toContain("alice, bob");
    expect(result.stdout).toBe("");
  });

  it("refuses a client that may not use the grant", async () => {
    const result = await devToken(statePath, "--client", "tollgate-dev-users", "--scopes", "mcp:read");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("may not use the client_credentials grant");
  });

  it("fails when a requested scope was not granted, instead of printing a token without it", async () => {
    const result = await devToken(statePath, "--scopes", "mcp:read mcp:everything");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/did not grant mcp:everything|invalid_scope/);
    expect(result.stdout).toBe("");
  });

  it("says how to start the platform when no state file exists", async () => {
    const result = await devToken(join(dir, "missing.json"));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("npm start");
  });
});
