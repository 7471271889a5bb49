/**
 * The pull-request review on real synthesized trees (cdktf synth of stacks/ and of a small platform):
 * the rows a security reviewer signs off, and the exit codes a workflow gates on.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDigest } from "../../policies/bundle/index.js";
import { type Change, type ReviewReport, renderMarkdown } from "../../policies/review/index.js";
import { GATES } from "../../runtime/cli/diff.js";
import { runCli } from "../cli/run-cli.js";
import { DEV_STACK, Trees } from "./synthesized.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const trees = new Trees();
const SMALL = "tollgate-small";

beforeAll(() => {
  trees.environment("base");
  // A write-capable pattern slipped into the read scope: the first question of a regulated reviewer.
  trees.environment("read-gains-dispatch", (s) =>
    s.platform.scopes.grantTools("mcp:read", s.platform.routes.github, "dispatch_*"),
  );
  trees.small("small");
  trees.small("small-renamed", "McpScopes");
  const widen = (b: Record<string, any>) => {
    b.mcp.grants[0].tools = ["*"];
  };
  trees.editBundle("base", "edited", DEV_STACK, widen);
  trees.editBundle("base", "edited-redigested", DEV_STACK, (b) => {
    widen(b);
    b.metadata.digest = withDigest(b as Parameters<typeof withDigest>[0]).metadata.digest;
  });
  // The ConfigMap's values.json, edited by hand: one client id filled with a literal, one left out.
  trees.editTerraform("base", "values-edited", DEV_STACK, (tf) => {
    const data = Object.values(
      tf.resource.kubernetes_config_map as Record<string, { data: Record<string, string> }>,
    )[0]!.data;
    data["values.json"] = data["values.json"]!.replace(
      "jsonencode({",
      'jsonencode({"okta.clients.extra.id" = "0oa-extra", ',
    ).replace(/"okta\.clients\.user\.id" = [^,]+, /, "");
  });
  trees.editBundle("base", "no-digest", DEV_STACK, (b) => {
    widen(b);
    delete b.metadata.digest;
  });
}, 120_000);
afterAll(() => trees.remove());

async function diff(base: string, head: string, ...flags: string[]) {
  const run = await runCli(["diff", trees.path(base), trees.path(head), "--format", "json", ...flags]);
  return { ...run, report: run.stdout ? (JSON.parse(run.stdout) as ReviewReport) : undefined };
}

const rows = (report: ReviewReport | undefined, kind: Change["kind"]) =>
  (report?.changes ?? []).filter((c) => c.kind === kind).map((c) => c.summary);

describe("effective authority per Okta client", () => {
  it("a write-capable pattern granted to mcp:read is a row for the unattended agent app, and fails --fail-on widening", async () => {
    const { code, report } = await diff("base", "read-gains-dispatch", "--fail-on", "widening");
    expect(code).toBe(GATES.widening);
    expect(rows(report, "tool-access")).toEqual(["mcp:read can now call tools matching `github__dispatch_*`"]);
    // Users (and the agent acting for one) already reached it through mcp:admin's `*`: no row for them.
    expect(report!.changes.filter((c) => c.kind === "client-access")).toEqual([
      expect.objectContaining({
        client: "tollgate-dev (agents)",
        unattended: true,
        tool: "github__dispatch_*",
        match: "pattern",
        change: "gained",
        via: "mcp:read",
        effect: "widening",
      }),
    ]);
    // Both agents of the environment hold mcp:read (alone and for a user: one row each).
    expect(rows(report, "agent-access")).toEqual([
      "agent coding alone and acting for a user can now call tools matching `github__dispatch_*` (via mcp:read)",
      "agent triage alone and acting for a user can now call tools matching `github__dispatch_*` (via mcp:read)",
    ]);
    expect(report!.summary.widening).toBe(4);
  });

  it("gates only on what --fail-on names", async () => {
    expect((await diff("base", "read-gains-dispatch", "--fail-on", "replace,tamper")).code).toBe(0);
    expect((await diff("base", "read-gains-dispatch")).code).toBe(0);
  });
});

describe("a renamed construct", () => {
  it("destroys and recreates the Okta scopes: --fail-on replace exits 4, --fail-on widening passes", async () => {
    const replace = await diff("small", "small-renamed", "--fail-on", "replace");
    expect(replace.code).toBe(GATES.replace);
    expect(replace.stderr).toContain("Terraform will destroy and recreate okta_auth_server_scope.McpScopes_Scope_mcp_");
    expect(replace.report!.summary.replaced).toEqual([
      expect.stringMatching(/^okta_auth_server_scope\.McpScopes_Scope_mcp_admin_/),
      expect.stringMatching(/^okta_auth_server_scope\.McpScopes_Scope_mcp_read_/),
      expect.stringMatching(/^okta_auth_server_scope\.McpScopes_Scope_mcp_write_/),
    ]);
    expect(replace.report!.summary.warnings).toHaveLength(3);
    expect((await diff("small", "small-renamed", "--fail-on", "widening")).code).toBe(0);
  });

  it("shows no update for resources whose only change is depends_on", async () => {
    const rules = (name: string) =>
      JSON.parse(readFileSync(trees.stackFile(name, SMALL, "cdk.tf.json"), "utf8")).resource
        .okta_auth_server_policy_rule as Record<string, { depends_on: string[] }>;
    // The rename does change the policy rules' depends_on (they wait for the scopes)...
    const before = Object.values(rules("small")).map((r) => r.depends_on);
    const after = Object.values(rules("small-renamed")).map((r) => r.depends_on);
    expect(after).not.toEqual(before);
    // ...which Terraform does not act on: the resources listed are the three scopes and nothing else.
    const { report } = await diff("small", "small-renamed");
    expect(report!.infrastructure.flatMap((i) => i.resources.map((r) => `${r.action} ${r.type}`))).toEqual([
      "replace okta_auth_server_scope",
      "replace okta_auth_server_scope",
      "replace okta_auth_server_scope",
    ]);
  });
});

describe("a tampered bundle", () => {
  const bundleFile = (name: string) => trees.stackFile(name, DEV_STACK, "gateway.bundle.json");

  it("edited after synth: diff reports it and exits 5 under --fail-on tamper, not as an ordinary widening", async () => {
    const { code, report, stderr } = await diff("base", "edited", "--fail-on", "widening,tamper");
    expect(code).toBe(GATES.tamper);
    expect(stderr).toContain("tampered bundle: head");
    expect(report!.tamper).toEqual([
      expect.objectContaining({
        side: "head",
        where: bundleFile("edited"),
        message: expect.stringMatching(/^metadata\.digest: does not match the content .* re-run cdktf synth/),
      }),
    ]);
    const markdown = renderMarkdown(report!);
    expect(markdown).toContain("**Tampered bundle: what is reviewed here is not what will run**");
  });

  it("re-digested after the edit: the ConfigMap Terraform deploys carries another bundle, and that is tamper", async () => {
    const { code, report } = await diff("base", "edited-redigested", "--fail-on", "tamper");
    expect(code).toBe(GATES.tamper);
    expect(report!.tamper).toEqual([
      expect.objectContaining({
        side: "head",
        where: expect.stringMatching(/^tollgate-dev: kubernetes_config_map\./),
        message: expect.stringContaining("is not the reviewed gateway.bundle.json"),
      }),
    ]);
  });

  it("a ConfigMap whose values.json was edited by hand is tamper: it fills other placeholders than the bundle's", async () => {
    const { code, report } = await diff("base", "values-edited", "--fail-on", "tamper");
    expect(code).toBe(GATES.tamper);
    expect(report!.tamper).toEqual([
      expect.objectContaining({
        side: "head",
        message: expect.stringContaining(
          "values.json does not fill okta.clients.user.id and sets okta.clients.extra.id, which the bundle does not use",
        ),
      }),
    ]);
  });

  it("the untouched synthesis is not tamper", async () => {
    const { code, report } = await diff("base", "base", "--fail-on", "widening,replace,tamper");
    expect(code).toBe(0);
    expect(report!.tamper).toEqual([]);
  });

  it("validate and explain refuse it, naming the digest and the fix", async () => {
    const validate = await runCli(["validate", bundleFile("edited")]);
    expect(validate.code).toBe(1);
    expect(validate.stdout).toBe("");
    expect(validate.stderr).toContain("metadata.digest: does not match the content");
    const explain = await runCli([
      "explain",
      "--bundle",
      bundleFile("edited"),
      "--claims",
      join(root, "package.json"),
      "--tool",
      "github__list_issues",
    ]);
    expect(explain.code).toBe(2);
    expect(explain.stderr).toContain("metadata.digest: does not match the content");
    expect((await runCli(["validate", bundleFile("base")])).code).toBe(0);
  });
});

describe("a bundle without its digest", () => {
  const file = () => trees.stackFile("no-digest", DEV_STACK, "gateway.bundle.json");
  const FIX = "metadata.digest: missing";

  it("is an error with the fix in diff, validate and explain, never a skip", async () => {
    const d = await diff("base", "no-digest");
    expect(d.code).toBe(1);
    expect(d.stderr).toContain(FIX);
    expect(d.stderr).toContain("re-run cdktf synth");
    const v = await runCli(["validate", file()]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(FIX);
    const e = await runCli(["explain", "--bundle", file(), "--claims", file(), "--tool", "github__list_issues"]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain(FIX);
  });

  it("is refused by serve", async () => {
    const child = spawn(
      process.execPath,
      [join(root, "bin/tollgate.mjs"), "serve", "--bundle", file(), "--port", "0"],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(FIX);
  });
});

describe("the documented example", () => {
  const between = (text: string, start: string, end: string) =>
    text.slice(text.indexOf(start) + start.length, text.indexOf(end));

  it("docs/review.md shows the comment tollgate diff writes for the mcp:read change, byte for byte", async () => {
    const { stdout } = await runCli(["diff", trees.path("base"), trees.path("read-gains-dispatch")]);
    const doc = readFileSync(join(root, "docs/review.md"), "utf8");
    const shown = between(doc, "<!-- example-comment:start -->\n````markdown\n", "````\n<!-- example-comment:end -->");
    expect(shown).toBe(stdout);
  });

  it("the README's review section shows that comment's authority rows", async () => {
    const { stdout } = await runCli(["diff", trees.path("base"), trees.path("read-gains-dispatch")]);
    const rowsOfComment = stdout.split("\n").filter((l) => l.startsWith("| 🔺"));
    expect(rowsOfComment).toHaveLength(4);
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = between(readme, "## Reviewing changes in pull requests", "\n## Operating the gateway");
    for (const row of rowsOfComment) expect(section).toContain(row);
  });
});
