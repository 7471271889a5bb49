import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../runtime/observability/audit.js";
import { createDecisionRing } from "../../runtime/console/ring.js";

const event = (overrides: Partial<AuditEvent>): AuditEvent => ({ kind: "mcp", decision: "allow", ...overrides });

describe("the decision ring", () => {
  it("keeps the newest events up to its capacity, newest first", () => {
    const ring = createDecisionRing(3);
    for (const principal of ["a", "b", "c", "d", "e"]) ring.record(event({ principal }));
    expect(ring.size).toBe(3);
    expect(ring.list().map((e) => e.principal)).toEqual(["e", "d", "c"]);
  });

  it("never stores a prompt, even when the audit log captured one", () => {
    const ring = createDecisionRing(2);
    ring.record(event({ kind: "llm", model: "gpt", prompt: "my SSN is 123-45-6789" }));
    const [kept] = ring.list();
    expect(kept).toBeDefined();
    expect(JSON.stringify(kept)).not.toContain("SSN");
    expect(Object.keys(kept as object)).not.toContain("prompt");
  });

  it("filters by decision, principal and tool or model", () => {
    const ring = createDecisionRing(10);
    ring.record(event({ decision: "allow", principal: "alice", tool: "memory__read_graph" }));
    ring.record(event({ decision: "deny", principal: "alice", tool: "memory__delete_entities" }));
    ring.record(event({ decision: "deny", principal: "bob", tool: "github__merge_pull_request" }));
    ring.record(event({ kind: "llm", decision: "rate-limited", principal: "bob", model: "gpt-4o" }));
    expect(ring.list({ decision: "deny" }).map((e) => e.tool)).toEqual([
      "github__merge_pull_request",
      "memory__delete_entities",
    ]);
    expect(ring.list({ principal: "alice", decision: "deny" }).map((e) => e.tool)).toEqual(["memory__delete_entities"]);
    expect(ring.list({ tool: "memory__" })).toHaveLength(2);
    expect(ring.list({ tool: "gpt" }).map((e) => e.decision)).toEqual(["rate-limited"]);
    expect(ring.list({ principal: "alic" })).toHaveLength(0);
  });

  it("returns at most the requested number of matches", () => {
    const ring = createDecisionRing(10);
    for (let i = 0; i < 10; i++) ring.record(event({ status: i }));
    expect(ring.list({}, 4).map((e) => e.status)).toEqual([9, 8, 7, 6]);
  });

  it("refuses a capacity that is not a positive integer, naming it", () => {
    expect(() => createDecisionRing(0)).toThrow(/capacity: expected a positive integer, got 0/);
  });
});
