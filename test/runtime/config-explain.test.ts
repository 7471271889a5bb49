/**
 * `tollgate explain`: the decision and the deciding rule for a tool and a set of token claims.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeBundleSchema, withDigest } from "../../policies/bundle/index.js";
import { explainTool } from "../../runtime/cli/explain.js";
import { sampleBundle } from "../support/sample-bundle.js";

const run = promisify(execFile);

async function tollgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [resolve("bin/tollgate.mjs"), ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("tollgate explain", () => {
  let dir: string;
  let bundleFile: string;
  const claimsFile = (name: string) => join(dir, `${name}.json`);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-explain-"));
    bundleFile = join(dir, "bundle.json");
    await writeFile(bundleFile, JSON.stringify(withDigest(sampleBundle())));
    await writeFile(claimsFile("reader"), JSON.stringify({ sub: "alice", cid: "agent", scp: ["mcp:read"] }));
    await writeFile(claimsFile("admin"), JSON.stringify({ sub: "root", cid: "ops", scp: "mcp:read mcp:admin" }));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("prints ALLOWED with the granting scope and exits 0 for a read tool and a read scope", async () => {
    const { code, stdout } = await tollgate([
      "explain",
      "--bundle",
      bundleFile,
      "--claims",
      claimsFile("reader"),
      "--tool",
      "memory__read_graph",
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain("ALLOWED: memory__read_graph");
    expect(stdout).toContain("rule:   grant: mcp:read");
  });

  it("prints DENIED with every scope that would allow a write tool and exits 1", async () => {
    const { code, stdout } = await tollgate([
      "explain",
      "--bundle",
      bundleFile,
      "--claims",
      claimsFile("reader"),
      "--tool",
      "memory__create_entities",
      "--json",
    ]);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({
      allowed: false,
      rule: "scope: mcp:write or mcp:admin required",
      requiredScopes: ["mcp:write", "mcp:admin"],
      principal: { subject: "alice", client: "agent" },
    });
  });

  it("names the always-blocked rule that beats even the admin scope", () => {
    const bundle = RuntimeBundleSchema.parse(sampleBundle());
    expect(explainTool(bundle, { sub: "root", scp: ["mcp:admin"] }, "memory__delete_entities")).toMatchObject({
      allowed: false,
      rule: "always-blocked: destructive",
    });
  });

  it("says a tool nobody was granted is refused by default", () => {
    const bundle = RuntimeBundleSchema.parse(sampleBundle());
    expect(explainTool(bundle, { sub: "alice", scp: ["mcp:read"] }, "github__create_issue")).toMatchObject({
      allowed: false,
      rule: "no grant",
    });
  });

  it("says a client outside allowedClients is refused before any tool rule", () => {
    const bundle = RuntimeBundleSchema.parse({
      ...sampleBundle(),
      auth: { ...sampleBundle().auth, allowedClients: ["ops"] },
    });
    expect(explainTool(bundle, { sub: "alice", cid: "agent", scp: ["mcp:admin"] }, "memory__read_graph")).toMatchObject(
      { allowed: false, rule: expect.stringContaining("client not allowed") },
    );
  });

  it("rejects an unknown upstream with the list of upstreams (exit 2)", async () => {
    const { code, stderr } = await tollgate([
      "explain",
      "--bundle",
      bundleFile,
      "--claims",
      claimsFile("admin"),
      "--tool",
      "jira__get_issue",
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('no upstream "jira"');
    expect(stderr).toContain("memory, github");
  });
});
