import { describe, expect, it } from "vitest";
import { healthOf } from "../../runtime/console/health.js";

const runtime = (
  loaded: boolean,
  states: Awaited<ReturnType<Parameters<typeof healthOf>[0]["readiness"]["states"]>>,
) => ({
  verifier: { keys: { loaded } },
  readiness: { states: async () => states },
});

describe("the upstreams view of a runtime", () => {
  it("is ready when the issuer's keys are fetched and every required upstream is up", async () => {
    const view = await healthOf(runtime(true, [{ id: "memory", kind: "mcp", state: "up" }]));
    expect(view).toEqual({ ready: true, reasons: [], upstreams: [{ id: "memory", kind: "mcp", state: "up" }] });
  });

  it("gives /readyz's reasons when keys are missing or a required upstream is down", async () => {
    const view = await healthOf(
      runtime(false, [{ id: "github", kind: "mcp", state: "down", detail: "connection failed (ECONNREFUSED)" }]),
    );
    expect(view.ready).toBe(false);
    expect(view.reasons).toEqual([
      "issuer keys not fetched",
      'mcp upstream "github" down: connection failed (ECONNREFUSED)',
    ]);
  });

  it("lists cooling-down providers without making the replica unready", async () => {
    const until = new Date(Date.now() + 30_000);
    const view = await healthOf(runtime(true, []), [{ route: "anthropic", provider: "anthropic", until }]);
    expect(view.ready).toBe(true);
    expect(view.upstreams).toEqual([
      { id: "anthropic", kind: "llm", provider: "anthropic", state: "cooling-down", until },
    ]);
  });
});
