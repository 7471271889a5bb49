import { describe, expect, it } from "vitest";
import { type BundleInput, orThrow, validateRuntimeBundle } from "../../policies/bundle/index.js";
import { compileToolPolicy } from "../../policies/tools/index.js";
import { authorityMatrix } from "../../runtime/console/matrix.js";
import { sampleBundle } from "../support/sample-bundle.js";

const load = (input: BundleInput = sampleBundle()) => {
  const bundle = orThrow(validateRuntimeBundle(input));
  return { bundle, policy: compileToolPolicy(bundle.mcp ?? { grants: [], deny: [], alwaysBlocked: [] }) };
};

const TOOLS = [
  { upstream: "memory", name: "read_graph" },
  { upstream: "memory", name: "create_entities" },
  { upstream: "memory", name: "delete_entities" },
  { upstream: "github", name: "get_issue" },
  { upstream: "github", name: "merge_pull_request" },
];

describe("the authority matrix", () => {
  it("has one column per granted scope and one row per listed tool, with the gateway's decision in each cell", () => {
    const { bundle, policy } = load();
    const matrix = authorityMatrix(bundle, policy, TOOLS);
    expect(matrix.scopes).toEqual(["mcp:read", "mcp:write", "mcp:admin"]);
    const row = (upstream: string, tool: string) => {
      const found = matrix.rows.find((r) => r.upstream === upstream && r.tool === tool);
      if (!found) throw new Error(`no row for ${upstream} ${tool}`);
      return Object.fromEntries(matrix.scopes.map((s, i) => [s, found.cells[i]?.outcome]));
    };
    expect(row("memory", "read_graph")).toEqual({ "mcp:read": "allow", "mcp:write": "refuse", "mcp:admin": "allow" });
    expect(row("memory", "create_entities")).toEqual({
      "mcp:read": "refuse",
      "mcp:write": "allow",
      "mcp:admin": "allow",
    });
    expect(row("github", "get_issue")).toEqual({ "mcp:read": "allow", "mcp:write": "refuse", "mcp:admin": "refuse" });
  });

  it("marks always-blocked tools, which no scope opens, not even one granting every tool", () => {
    const { bundle, policy } = load();
    const matrix = authorityMatrix(bundle, policy, TOOLS);
    const blocked = matrix.rows.filter((r) => r.alwaysBlocked).map((r) => `${r.upstream}/${r.tool}`);
    expect(blocked).toEqual(["memory/delete_entities", "github/merge_pull_request"]);
    for (const row of matrix.rows.filter((r) => r.alwaysBlocked))
      expect(row.cells.every((c) => c.outcome === "always-blocked")).toBe(true);
  });

  it("shows deny rules as denied for every scope", () => {
    const input = sampleBundle();
    input.mcp!.deny = [{ upstream: "memory", tools: ["read_graph"], reason: "under review" }];
    const { bundle, policy } = load(input);
    const row = authorityMatrix(bundle, policy, TOOLS).rows.find((r) => r.tool === "read_graph");
    expect(row?.cells.map((c) => c.outcome)).toEqual(["deny", "deny", "deny"]);
    expect(row?.alwaysBlocked).toBe(false);
  });

  it("falls back to the bundle's patterns for an upstream whose tools are not known", () => {
    const { bundle, policy } = load();
    const matrix = authorityMatrix(bundle, policy, []);
    const github = matrix.rows.filter((r) => r.upstream === "github");
    expect(github.every((r) => r.isPattern)).toBe(true);
    expect(github.map((r) => r.tool)).toEqual(
      expect.arrayContaining(["list_*", "get_*", "search_*", "*delete*", "merge_pull_request"]),
    );
    expect(github.find((r) => r.tool === "merge_pull_request")?.alwaysBlocked).toBe(true);
  });

  it("says which clients reach the rules when the bundle restricts clients", () => {
    const input = sampleBundle();
    input.auth.allowedClients = ["agent-a", "agent-b"];
    const { bundle, policy } = load(input);
    expect(authorityMatrix(bundle, policy, TOOLS).clients).toEqual({
      restricted: true,
      allowed: ["agent-a", "agent-b"],
    });
    const open = load();
    expect(authorityMatrix(open.bundle, open.policy, TOOLS).clients).toEqual({ restricted: false });
  });
});
