/**
 * `tollgate diff` on two real syntheses of the example environment (stacks/) that differ by one
 * granted tool: the grant must show as a widening of the scope.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "cdktf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Change, ReviewReport } from "../../policies/review/index.js";
import { EXIT_WIDENING } from "../../runtime/cli/diff.js";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
let dir: string;

function synth(outdir: string, grantOneMore: boolean): void {
  const app = new App({ outdir });
  const dev = new EnvironmentStack(app, ENVIRONMENTS.dev);
  if (grantOneMore) dev.platform.scopes.grantTools("mcp:read", dev.platform.routes.github, "approve_deployment");
  app.synth();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-diff-"));
  synth(join(dir, "base"), false);
  synth(join(dir, "head"), true);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tollgate diff on the example environment", () => {
  it("shows one granted tool as a widening of its scope, and fails --fail-on widening", () => {
    const run = spawnSync(
      process.execPath,
      [
        join(root, "bin/tollgate.mjs"),
        "diff",
        join(dir, "base"),
        join(dir, "head"),
        "--format",
        "json",
        "--fail-on",
        "widening",
      ],
      { encoding: "utf8" },
    );
    expect(run.stderr).toContain("widening change");
    expect(run.status).toBe(EXIT_WIDENING);
    const report = JSON.parse(run.stdout) as ReviewReport;
    const widening = report.changes.filter((c: Change) => c.effect === "widening");
    // Users (and the agent acting for one) already reach it through mcp:admin's `*`; the unattended agent did not.
    expect(widening.map((c) => c.summary)).toEqual([
      "mcp:read can now call github__approve_deployment",
      "client tollgate-dev (agents) (unattended: client credentials, no user) can now call github__approve_deployment (via mcp:read)",
    ]);
    expect(report.changes.filter((c) => c.effect === "narrowing")).toEqual([]);
    // The bundle travels in the ConfigMap: the only infrastructure change is that update, nothing destroyed.
    expect(report.summary.warnings).toEqual([]);
    expect(report.infrastructure.flatMap((i) => i.resources.map((r) => r.action))).not.toContain("delete");
  });

  it("reports nothing when both sides are the same synthesis", () => {
    const run = spawnSync(
      process.execPath,
      [join(root, "bin/tollgate.mjs"), "diff", join(dir, "base"), join(dir, "base"), "--fail-on", "widening"],
      { encoding: "utf8" },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("0 widening, 0 narrowing, 0 neutral, 0 resource changes");
  });
});
