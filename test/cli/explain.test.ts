/**
 * `tollgate explain` on the bundle `cdktf synth` writes for the default environment: placeholders named
 * instead of guessed, the decision path, and raw tokens verified against a real issuer.
 */
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Explanation } from "../../runtime/cli/explain.js";
import { DEV_STACK, Trees } from "../review/synthesized.js";
import { type TestIssuer, startTestIssuer } from "../support/test-issuer.js";
import { runCli } from "./run-cli.js";

const trees = new Trees();
let bundle: string;
let issuer: TestIssuer;
let foreign: TestIssuer;

const AGENT = "0oa-agent-client";
const USER_APP = "0oa-user-client";
const AUDIENCE = "https://gateway.dev.tollgate.example.com";

function json(name: string, value: unknown): string {
  const file = trees.path(name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

/** The ConfigMap's values.json as Terraform renders it, pointing at `at`. */
function values(at: string): string {
  return json(`values-${encodeURIComponent(at)}.json`, {
    "okta.issuer": at,
    "okta.discoveryUrl": `${at}/.well-known/openid-configuration`,
    "okta.jwksUri": `${at}/jwks`,
    "okta.tokenUrl": `${at}/token`,
    "okta.clients.agent.id": AGENT,
    "okta.clients.user.id": USER_APP,
    "okta.clients.agent-triage.id": "0oa-triage",
    "okta.clients.agent-coding.id": "0oa-coding",
  });
}

const claims = (scp: string[], cid = AGENT) => json(`claims-${cid}-${scp.join("+")}.json`, { sub: cid, cid, scp });

async function token(signer: TestIssuer, scp: string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signer.sign({ iss: issuer.issuer, aud: AUDIENCE, sub: AGENT, cid: AGENT, scp, iat: now, exp: now + 300 });
}

async function explain(...args: string[]) {
  const run = await runCli(["explain", "--bundle", bundle, ...args]);
  return {
    ...run,
    json: args.includes("--json") && run.code !== 2 ? (JSON.parse(run.stdout) as Explanation) : undefined,
  };
}

beforeAll(async () => {
  trees.environment("base");
  bundle = trees.stackFile("base", DEV_STACK, "gateway.bundle.json");
  [issuer, foreign] = await Promise.all([startTestIssuer(), startTestIssuer()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([issuer.close(), foreign.close()]);
  trees.remove();
});

describe("tollgate explain on a reviewed bundle", () => {
  it("says the answer depends on the unfilled client placeholders and which --values fill them (exit 3)", async () => {
    const { code, json: result } = await explain(
      "--claims",
      claims(["mcp:read"]),
      "--tool",
      "github__list_issues",
      "--json",
    );
    expect(code).toBe(3);
    expect(result).toMatchObject({
      verdict: "depends on placeholders",
      allowed: false,
      unfilled: [
        "okta.clients.user.id",
        "okta.clients.agent.id",
        "okta.clients.agent-triage.id",
        "okta.clients.agent-coding.id",
      ],
    });
    expect(result!.path.map((s) => `${s.check} ${s.outcome}`)).toEqual([
      "client unknown",
      "always-blocked pass",
      "deny pass",
      "grant pass",
    ]);
    expect(result!.path[3]!.detail).toBe("mcp:read grants github tools matching `list_*`");
    const text = await explain("--claims", claims(["mcp:read"]), "--tool", "github__list_issues");
    expect(text.stdout).toContain("DEPENDS ON PLACEHOLDERS: github__list_issues");
    expect(text.stdout).toContain(
      "--values values.json with okta.clients.user.id, okta.clients.agent.id, okta.clients.agent-triage.id",
    );
  });

  it("with the values, decides: allowed by the grant, or refused by the always-blocked rule it names", async () => {
    const vals = values("https://issuer.example");
    const allowed = await explain("--values", vals, "--claims", claims(["mcp:read"]), "--tool", "github__list_issues");
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^ALLOWED: github__list_issues/);
    const merge = await explain(
      "--values",
      vals,
      "--claims",
      claims(["mcp:admin"]),
      "--tool",
      "github__merge_pull_request",
      "--json",
    );
    expect(merge.code).toBe(1);
    expect(merge.json!.path.map((s) => `${s.check} ${s.outcome}`)).toEqual(["client pass", "always-blocked refuse"]);
    expect(merge.json!.path[1]!.detail).toBe(
      "`merge_pull_request` on every upstream: destructive: never callable through the gateway",
    );
    const stranger = await explain(
      "--values",
      vals,
      "--claims",
      claims(["mcp:admin"], "0oa-stranger"),
      "--tool",
      "github__list_issues",
    );
    expect(stranger.code).toBe(1);
    expect(stranger.stdout).toContain("0oa-stranger is not in auth.allowedClients");
  });
});

describe("tollgate explain --token", () => {
  it("verifies the token against the issuer and explains its claims", async () => {
    const result = await explain(
      "--values",
      values(issuer.issuer),
      "--token",
      await token(issuer, ["mcp:write"]),
      "--tool",
      "github__create_issue",
      "--json",
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.json!.principal).toEqual({
      subject: AGENT,
      client: AGENT,
      scopes: ["mcp:write"],
      source: "verified token",
    });
  });

  it("refuses a token the issuer did not sign, as the gateway would", async () => {
    const result = await explain(
      "--values",
      values(issuer.issuer),
      "--token",
      await token(foreign, ["mcp:admin"]),
      "--tool",
      "github__create_issue",
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("the token does not verify");
  });

  it("says when the issuer is unreachable or still a placeholder, and --no-verify explains the decoded claims", async () => {
    const signed = await token(issuer, ["mcp:read"]);
    const unreachable = await explain(
      "--values",
      values("http://127.0.0.1:9"),
      "--token",
      signed,
      "--tool",
      "github__list_issues",
    );
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain("is not reachable");
    expect(unreachable.stderr).toContain("--no-verify");
    const placeholders = await explain("--token", signed, "--tool", "github__list_issues");
    expect(placeholders.code).toBe(2);
    expect(placeholders.stderr).toContain("okta.issuer");
    expect(placeholders.stderr).toContain("--values");
    const decoded = await explain("--token", signed, "--no-verify", "--tool", "github__list_issues", "--json");
    expect(decoded.code).toBe(3);
    expect(decoded.json!.principal.source).toBe("unverified token");
  });

  it("refuses a --token that is not a JWT, naming the flag", async () => {
    const result = await explain("--token", "not-a-jwt", "--no-verify", "--tool", "github__list_issues");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--token: not a compact JWT");
  });

  it("takes either --token or --claims, not both", async () => {
    const both = await explain("--token", "a.b.c", "--claims", claims(["mcp:read"]), "--tool", "github__list_issues");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("usage: tollgate explain");
  });
});
