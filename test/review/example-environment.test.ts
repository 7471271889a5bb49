/**
 * `tollgate diff` on real syntheses of the example environment (stacks/) that differ by one granted tool (the
 * grant must show as a widening of the scope and of every agent that holds it), or by one agent's authority.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "cdktf";
import { Agent } from "../../constructs/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Change, ReviewReport } from "../../policies/review/index.js";
import { EXIT_WIDENING } from "../../runtime/cli/diff.js";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
let dir: string;

function synth(outdir: string, change: (dev: EnvironmentStack) => void = () => {}): void {
  const app = new App({ outdir });
  const dev = new EnvironmentStack(app, ENVIRONMENTS.dev);
  change(dev);
  app.synth();
}

/** `tollgate diff <base> <head> --format json --fail-on widening`. */
function diff(head: string) {
  const run = spawnSync(
    process.execPath,
    [
      join(root, "bin/tollgate.mjs"),
      "diff",
      join(dir, "base"),
      join(dir, head),
      "--format",
      "json",
      "--fail-on",
      "widening",
    ],
    { encoding: "utf8" },
  );
  return { ...run, report: JSON.parse(run.stdout) as ReviewReport };
}

const summaries = (report: ReviewReport, kinds: readonly Change["kind"][]) =>
  report.changes.filter((c) => kinds.includes(c.kind)).map((c) => `${c.effect}: ${c.summary}`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-diff-"));
  synth(join(dir, "base"));
  synth(join(dir, "head"), (dev) =>
    dev.platform.scopes.grantTools("mcp:read", dev.platform.routes.github, "approve_deployment"),
  );
  // The read-only triage agent's ceiling gains mcp:write (the construct records what the bundle emits).
  synth(join(dir, "triage-writes"), (dev) => (dev.platform.agents.triage.scopes as string[]).push("mcp:write"));
  // A third agent, and the coding agent's ceiling narrowed to reading.
  synth(join(dir, "deploy-agent"), (dev) => {
    const p = dev.platform;
    new Agent(p, "DeployAgent", {
      agentId: "deploy",
      authServer: p.okta,
      clients: p.okta,
      gateway: p.gateway,
      scopeSet: p.scopes,
      scopes: ["mcp:admin"],
      runtime: { runtimeName: "devops_deploy_dev", imageTag: "dev" },
    });
    (p.agents.coding.scopes as string[]).splice(1);
  });
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
    // Both agents hold mcp:read, alone and for a user (their ceilings leave out mcp:admin).
    expect(widening.map((c) => c.summary)).toEqual([
      "mcp:read can now call github__approve_deployment",
      "client tollgate-dev (agents) (unattended: client credentials, no user) can now call github__approve_deployment (via mcp:read)",
      "agent coding alone and acting for a user can now call github__approve_deployment (via mcp:read)",
      "agent triage alone and acting for a user can now call github__approve_deployment (via mcp:read)",
    ]);
    expect(report.changes.filter((c) => c.effect === "narrowing")).toEqual([]);
    // The bundle travels in the ConfigMap: the only infrastructure change is that update, nothing destroyed.
    expect(report.summary.warnings).toEqual([]);
    expect(report.infrastructure.flatMap((i) => i.resources.map((r) => r.action))).not.toContain("delete");
  });

  it("an agent gaining a write scope is a widening of that agent alone, and fails --fail-on widening", () => {
    const { status, stderr, report } = diff("triage-writes");
    expect(status).toBe(EXIT_WIDENING);
    expect(stderr).toContain("widening change");
    expect(summaries(report, ["agent", "agent-scope"])).toEqual(["widening: agent triage may now exercise mcp:write"]);
    const access = report.changes.filter((c) => c.kind === "agent-access");
    expect(access.length).toBeGreaterThan(0);
    expect(new Set(access.map((c) => c.effect))).toEqual(new Set(["widening"]));
    expect(access.map((c) => c.summary)).toContain(
      "agent triage alone and acting for a user can now call slack__slack_post_message (via mcp:write)",
    );
    // Only the triage agent changed: no row for the coding agent, a scope or another client.
    expect(access.every((c) => c.kind === "agent-access" && c.agent === "triage")).toBe(true);
    expect(report.changes.filter((c) => c.kind === "tool-access" || c.kind === "client-access")).toEqual([]);
  });

  it("an agent added shows what it reaches only for a user (a privileged scope), a narrowed one what it lost", () => {
    const { status, report } = diff("deploy-agent");
    expect(status).toBe(EXIT_WIDENING);
    expect(summaries(report, ["agent", "agent-scope"])).toEqual([
      "narrowing: agent coding may no longer exercise mcp:write",
      "widening: agent deploy added, with scopes mcp:admin",
    ]);
    const deploy = report.changes.filter((c) => c.kind === "agent-access" && c.agent === "deploy");
    // mcp:admin is consent-gated: never issued to client credentials, so the deploy agent alone reaches nothing.
    expect(deploy.length).toBeGreaterThan(0);
    expect(deploy.every((c) => c.kind === "agent-access" && c.acting === "for-user" && c.change === "gained")).toBe(
      true,
    );
    const coding = report.changes.filter((c) => c.kind === "agent-access" && c.agent === "coding");
    expect(coding.map((c) => c.summary)).toContain(
      "agent coding alone and acting for a user can no longer call slack__slack_post_message (scope: mcp:write or mcp:admin required)",
    );
    expect(coding.every((c) => c.effect === "narrowing")).toBe(true);
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
