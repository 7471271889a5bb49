import { describe, expect, it } from "vitest";
import { RuntimeBundleSchema } from "../../policies/bundle/index.js";
import {
  NameTable,
  compilePattern,
  compileToolPolicy,
  decideTool,
  decideUpstreamItem,
  namespacedName,
  namespacedUri,
  splitNamespacedName,
  splitNamespacedUri,
} from "../../policies/tools/index.js";
import { sampleBundle } from "../support/sample-bundle.js";

const mcp = RuntimeBundleSchema.parse(sampleBundle()).mcp!;
const policy = compileToolPolicy(mcp);

describe("tool patterns", () => {
  it("a * matches any run of characters and everything else is literal", () => {
    expect(compilePattern("read_*").regex.test("read_graph")).toBe(true);
    expect(compilePattern("read_*").regex.test("xread_graph")).toBe(false);
    expect(compilePattern("*delete*").regex.test("delete_entities")).toBe(true);
    expect(compilePattern("a.b").regex.test("axb")).toBe(false);
    expect(compilePattern("a.b").regex.test("a.b")).toBe(true);
  });
});

describe("decideTool", () => {
  it("a read-scope caller may call read tools, granted by mcp:read", () => {
    expect(decideTool(["mcp:read"], "memory", "read_graph", policy)).toEqual({ allowed: true, grantedBy: "mcp:read" });
  });

  it("a read-scope caller cannot call write tools and learns every scope that would allow it", () => {
    expect(decideTool(["mcp:read"], "memory", "create_entities", policy)).toEqual({
      allowed: false,
      rule: "scope: mcp:write or mcp:admin required",
      requiredScopes: ["mcp:write", "mcp:admin"],
    });
  });

  it("write scope adds write tools", () => {
    expect(decideTool(["mcp:read", "mcp:write"], "memory", "create_entities", policy)).toEqual({
      allowed: true,
      grantedBy: "mcp:write",
    });
  });

  it("always-blocked wins over an admin grant matching everything", () => {
    expect(decideTool(["mcp:admin"], "memory", "delete_entities", policy)).toEqual({
      allowed: false,
      rule: "always-blocked: destructive",
      requiredScopes: [],
    });
  });

  it("a deny rule wins over a grant, and always-blocked wins over a deny rule", () => {
    const p = compileToolPolicy({
      grants: [{ scope: "s", upstream: "memory", tools: ["*"] }],
      deny: [{ upstream: "memory", tools: ["open_*", "drop_*"], reason: "pii" }],
      alwaysBlocked: [{ upstream: "*", tools: ["drop_*"], reason: "destructive" }],
    });
    expect(decideTool(["s"], "memory", "open_nodes", p)).toEqual({
      allowed: false,
      rule: "deny: pii",
      requiredScopes: [],
    });
    expect(decideTool(["s"], "memory", "drop_all", p)).toMatchObject({ rule: "always-blocked: destructive" });
    expect(decideTool(["s"], "memory", "read_graph", p)).toEqual({ allowed: true, grantedBy: "s" });
  });

  it("a rule scoped to one upstream leaves the others alone", () => {
    const p = compileToolPolicy({
      grants: [
        { scope: "s", upstream: "a", tools: ["*"] },
        { scope: "s", upstream: "b", tools: ["*"] },
      ],
      deny: [{ upstream: "a", tools: ["x"], reason: "r" }],
      alwaysBlocked: [],
    });
    expect(decideTool(["s"], "a", "x", p).allowed).toBe(false);
    expect(decideTool(["s"], "b", "x", p).allowed).toBe(true);
  });

  it("a tool no grant covers is denied by default, even to a caller with every scope", () => {
    expect(decideTool(["mcp:read", "mcp:write", "mcp:admin"], "github", "create_issue", policy)).toEqual({
      allowed: false,
      rule: "no grant",
      requiredScopes: [],
    });
  });

  it("a grant for one upstream does not open the same tool name on another upstream", () => {
    expect(decideTool(["mcp:admin"], "github", "anything", policy).allowed).toBe(false);
  });

  it("a caller with no scopes sees nothing", () => {
    expect(decideTool([], "memory", "read_graph", policy)).toMatchObject({
      allowed: false,
      requiredScopes: ["mcp:read", "mcp:admin"],
    });
  });

  it("patterns are anchored: a granted prefix does not match in the middle of a name", () => {
    expect(decideTool(["mcp:read"], "memory", "unread_graph", policy).allowed).toBe(false);
  });
});

describe("decideUpstreamItem (prompts and resources)", () => {
  it("a caller holding any scope granted on the upstream may use its prompts and resources", () => {
    expect(decideUpstreamItem(["mcp:write"], "memory", policy)).toEqual({ allowed: true, grantedBy: "mcp:write" });
    expect(decideUpstreamItem(["mcp:write"], "github", policy)).toMatchObject({
      allowed: false,
      requiredScopes: ["mcp:read"],
    });
  });

  it("a prompt named like an always-blocked tool is refused", () => {
    expect(decideUpstreamItem(["mcp:admin"], "memory", policy, "delete_all")).toMatchObject({
      allowed: false,
      rule: "always-blocked: destructive",
    });
  });
});

describe("names", () => {
  it("tools are always prefixed with their upstream id", () => {
    expect(namespacedName("memory", "read_graph")).toBe("memory__read_graph");
    expect(splitNamespacedName("memory__read_graph")).toEqual({ upstreamId: "memory", name: "read_graph" });
    expect(splitNamespacedName("nounderscore")).toBeUndefined();
  });

  it("names with characters LLM APIs reject, or too long, are shortened to a valid, stable name", () => {
    const dotted = namespacedName("docs", "search.v2");
    expect(dotted).toMatch(/^docs__search_v2_[0-9a-f]{8}$/);
    expect(namespacedName("docs", "search.v2")).toBe(dotted);
    const long = namespacedName("memory", "x".repeat(100));
    expect(long).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(long.length).toBe(64);
    expect(namespacedName("memory", "x".repeat(101))).not.toBe(long);
  });

  it("the name table maps shortened names back and orders items stably", () => {
    const table = new NameTable([
      { upstreamId: "b", names: ["z", "a.b"] },
      { upstreamId: "a", names: ["y", "x"] },
    ]);
    expect(table.items.map((i) => i.exposed)).toEqual([namespacedName("b", "a.b"), "b__z", "a__x", "a__y"]);
    expect(table.resolve(namespacedName("b", "a.b"))).toEqual({
      upstreamId: "b",
      name: "a.b",
      exposed: namespacedName("b", "a.b"),
    });
    expect(table.resolve("b__a.b")).toBeUndefined();
    expect(table.resolve("c__x")).toBeUndefined();
  });

  it("resource URIs round-trip through the tollgate: wrapper", () => {
    const wrapped = namespacedUri("memory", "file:///a b?x=1");
    expect(wrapped.startsWith("tollgate://memory/")).toBe(true);
    expect(splitNamespacedUri(wrapped)).toEqual({ upstreamId: "memory", uri: "file:///a b?x=1" });
    expect(splitNamespacedUri("file:///etc/passwd")).toBeUndefined();
    expect(splitNamespacedUri("tollgate://memory/%E0%A4%A")).toBeUndefined();
  });
});
