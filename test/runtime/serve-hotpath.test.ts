/**
 * The server's request path under concurrency and at shutdown: many requests in flight add no listener
 * to a shared signal, shutdown aborts the requests still waiting on their upstream, and request paths are
 * routed in their normalised form.
 */
import { once } from "node:events";
import { type IncomingMessage, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { requestPath } from "../../runtime/server/index.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

describe("request paths", () => {
  it("are cut at the query and keep plain paths as they are", () => {
    expect(requestPath("/openai/v1/chat/completions?x=1")).toBe("/openai/v1/chat/completions");
    expect(requestPath("/.well-known/oauth-protected-resource/mcp")).toBe("/.well-known/oauth-protected-resource/mcp");
    expect(requestPath(undefined)).toBe("/");
  });

  it("are normalised like a URL parser would when they hold dot segments, escapes or an absolute form", () => {
    expect(requestPath("/mcp/../openai/v1/chat/completions")).toBe("/openai/v1/chat/completions");
    expect(requestPath("/openai/./v1/models")).toBe("/openai/v1/models");
    expect(requestPath("/open%61i/v1/models")).toBe("/open%61i/v1/models");
    expect(requestPath("http://evil.example/mcp?x")).toBe("/mcp");
    expect(requestPath("/a\\..\\mcp")).toBe(new URL("/a\\..\\mcp", "http://x").pathname);
  });
});

describe("requests in flight", () => {
  const IN_FLIGHT = 24;
  let platform: TestPlatform | undefined;
  let upstreamServer: ReturnType<typeof createServer> | undefined;
  const held: ServerResponse[] = [];

  afterEach(async () => {
    await platform?.close();
    for (const res of held.splice(0)) res.destroy();
    upstreamServer?.closeAllConnections();
    await new Promise<void>((resolve) => (upstreamServer ? upstreamServer.close(() => resolve()) : resolve()));
  });

  it("add no abort listener per request to a shared signal (the MaxListenersExceeded warning), and shutdown aborts them", async () => {
    // A provider that holds every request until the test lets go, and says when all have arrived.
    let arrived = 0;
    const allArrived = new Promise<void>((resolve) => {
      upstreamServer = createServer((req: IncomingMessage, res: ServerResponse) => {
        req.resume();
        held.push(res);
        if (++arrived === IN_FLIGHT) resolve();
      });
    });
    upstreamServer!.listen(0, "127.0.0.1");
    await once(upstreamServer!, "listening");
    const providerUrl = `http://127.0.0.1:${(upstreamServer!.address() as AddressInfo).port}/v1`;
    platform = await startTestPlatform({
      shutdownGraceMs: 50,
      env: { HOLD_KEY: "hold-key" },
      bundle: (bundle) => ({
        ...bundle,
        llm: {
          routes: [
            {
              id: "hold",
              pathPrefix: "/hold",
              policy: "open",
              providers: [
                { id: "hold", kind: "openai", baseUrl: providerUrl, apiKey: { env: "HOLD_KEY" }, timeoutMs: 60_000 },
              ],
            },
          ],
        },
        guardPolicies: [...bundle.guardPolicies, { id: "open" }],
      }),
    });
    const token = await platform.token("reader");
    // Count abort listeners added per signal while the requests are in flight (the warning itself is
    // process-wide and emitted once, so the test counts what causes it).
    const added = new Map<AbortSignal, number>();
    const original = AbortSignal.prototype.addEventListener;
    AbortSignal.prototype.addEventListener = function (
      this: AbortSignal,
      ...args: Parameters<AbortSignal["addEventListener"]>
    ) {
      if (args[0] === "abort") added.set(this, (added.get(this) ?? 0) + 1);
      return original.apply(this, args);
    } as AbortSignal["addEventListener"];
    try {
      const responses = Array.from({ length: IN_FLIGHT }, () =>
        fetch(`${platform!.url}/hold/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
        }).then(
          (r) => r.status,
          () => "aborted" as const,
        ),
      );
      await allArrived;
      expect(Math.max(0, ...added.values())).toBeLessThan(10);

      // Shutdown: the grace period passes, the requests still waiting on the provider are aborted.
      const closed = platform.close();
      const outcomes = await Promise.all(responses);
      await closed;
      expect(outcomes).toHaveLength(IN_FLIGHT);
      expect(outcomes.every((o) => o !== 200)).toBe(true);
      expect(
        held.every((res) => res.req.destroyed || res.destroyed || res.socket === null || res.socket.destroyed),
      ).toBe(true);
    } finally {
      AbortSignal.prototype.addEventListener = original;
    }
  });
});

describe("with tracing off", () => {
  it("an LLM call runs without spans and is still counted: request, tokens and upstream latency metrics, one audit line", async () => {
    const upstream = await startLlmUpstream();
    const platform = await startTestPlatform({
      env: { PLAIN_KEY: "plain-key" },
      bundle: (bundle) => ({
        ...bundle,
        llm: {
          routes: [
            {
              id: "plain",
              pathPrefix: "/plain",
              policy: "default",
              providers: [
                { id: "plain-openai", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "PLAIN_KEY" } },
              ],
            },
          ],
        },
      }),
    });
    try {
      expect(platform.gateway.telemetry.tracingEnabled).toBe(false);
      const token = await platform.token("reader");
      const response = await fetch(`${platform.url}/plain/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello there" }] }),
      });
      expect(response.status).toBe(200);
      await response.text();
      const metrics = await platform.gateway.telemetry.metrics.render();
      expect(metrics).toMatch(
        /tollgate_upstream_latency_seconds_count\{kind="llm",target="plain",provider="plain-openai",outcome="ok"\} 1/,
      );
      expect(metrics).toMatch(/tollgate_requests_total\{kind="llm",route="plain",decision="allow"\} 1/);
      expect(platform.audit.filter((e) => e.kind === "llm")).toHaveLength(1);
      expect(platform.audit.find((e) => e.kind === "llm")?.traceId).toBeUndefined();
    } finally {
      await platform.close();
      await upstream.close();
    }
  });
});

describe("authentication at the gateway", () => {
  let platform: TestPlatform | undefined;
  afterEach(async () => {
    await platform?.close();
    platform = undefined;
  });

  it("answers a request with two Authorization headers (one of them valid) with 401 invalid_request, and audits it", async () => {
    platform = await startTestPlatform();
    const valid = await platform.token("reader");
    const { status, challenge } = await new Promise<{ status: number; challenge: string }>((resolve, reject) => {
      const req = request(platform!.mcpUrl, {
        method: "POST",
        // Raw header pairs: two Authorization headers on the wire, as an attacker would send them.
        headers: [
          "host",
          new URL(platform!.mcpUrl).host,
          "authorization",
          `Bearer ${valid}`,
          "authorization",
          "Bearer forged.token.value",
          "content-type",
          "application/json",
        ],
      });
      req.once("response", (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, challenge: String(res.headers["www-authenticate"] ?? "") });
      });
      req.once("error", reject);
      req.end("{}");
    });
    expect(status).toBe(401);
    expect(challenge).toContain('error="invalid_request"');
    expect(platform.audit).toContainEqual(
      expect.objectContaining({ kind: "auth", decision: "deny", reason: "more than one authorization header" }),
    );
  });
});
