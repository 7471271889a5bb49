/**
 * What the gateway gives the console besides its own state: the LLM providers failover is skipping (with the
 * time they come back) and the rate-limit usage per principal, from memory and from a real redis-server shared
 * by two replicas' limiters.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { healthOf } from "../../runtime/console/health.js";
import { createRateLimiter } from "../../runtime/limits/index.js";
import type { BundleInput } from "../../policies/bundle/index.js";
import { llmTestConfig, testPrincipal } from "../support/llm-config.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";
import { type LlmStage, startLlmStage } from "../support/llm-stage.js";

const LIMITS = { windowSeconds: 60, requestsPerWindow: 10, tokensPerWindow: 1_000 };
const withLimits = (bundle: BundleInput) => {
  (bundle.guardPolicies[0] as { limits?: unknown }).limits = LIMITS;
};

describe("LLM providers cooling down", () => {
  let upstream: LlmUpstream;
  let stage: LlmStage;
  let clock = Date.UTC(2026, 11, 2, 12);
  beforeAll(async () => {
    upstream = await startLlmUpstream();
    stage = await startLlmStage(
      (bundle) => {
        bundle.llm = {
          routes: [
            {
              id: "chat",
              pathPrefix: "/chat",
              policy: "default",
              failover: { on: ["529"], evictSeconds: 30 },
              providers: [
                { id: "primary", kind: "openai", baseUrl: `${upstream.url}/primary/v1`, apiKey: { env: "K" } },
                { id: "secondary", kind: "openai", baseUrl: `${upstream.url}/secondary/v1`, apiKey: { env: "K" } },
              ],
            },
          ],
        };
      },
      { secrets: { K: "key" }, now: () => clock },
    );
  });
  afterAll(async () => {
    await stage?.close();
    await upstream?.close();
  });

  it("lists a provider that failed over, per route, until its eviction ends, and the upstreams page shows it", async () => {
    expect(stage.gateway.coolingDown()).toEqual([]);
    upstream.failNext({ status: 529, count: 1, vendor: "primary" });
    const response = await fetch(`${stage.url}/chat/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }),
    });
    await response.arrayBuffer();
    expect(response.headers.get("x-tollgate-provider")).toBe("secondary");
    const cooling = stage.gateway.coolingDown();
    expect(cooling).toEqual([{ route: "chat", provider: "primary", until: new Date(clock + 30_000) }]);

    const health = await healthOf(
      { verifier: { keys: { loaded: true } }, readiness: { states: async () => [] } },
      cooling,
    );
    expect(health.ready).toBe(true);
    expect(health.upstreams).toEqual([
      { id: "chat", kind: "llm", provider: "primary", state: "cooling-down", until: new Date(clock + 30_000) },
    ]);

    clock += 30_001;
    expect(stage.gateway.coolingDown()).toEqual([]);
  });
});

describe("rate-limit usage per principal", () => {
  it("reports each principal's open windows from memory, and forgets them once the window ends", async () => {
    let clock = 1_000_000;
    const limiter = await createRateLimiter(llmTestConfig(withLimits), { now: () => clock });
    try {
      for (let i = 0; i < 3; i++) await limiter.admitRequest(testPrincipal("alice"), "default");
      await limiter.recordTokens(testPrincipal("alice"), "default", 250);
      await limiter.admitRequest(testPrincipal("bob"), "default");
      const usage = await limiter.usage();
      expect(usage.map(({ windowEndsAt: _, ...u }) => u)).toEqual([
        {
          principal: "alice",
          policy: "default",
          requests: { used: 3, limit: 10 },
          tokens: { used: 250, limit: 1_000 },
        },
        { principal: "bob", policy: "default", requests: { used: 1, limit: 10 }, tokens: { used: 0, limit: 1_000 } },
      ]);
      clock += 60_001;
      expect(await limiter.usage()).toEqual([]);
    } finally {
      await limiter.close();
    }
  });

  describe("with Redis", () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("reports the shared counts, for the principals this replica has seen", async () => {
      const config = llmTestConfig(
        (bundle) => {
          withLimits(bundle);
          bundle.rateLimitStore = { type: "redis", url: { env: "REDIS_URL" }, keyPrefix: "usage-test:" };
        },
        { REDIS_URL: redis.url },
      );
      const [a, b] = await Promise.all([createRateLimiter(config), createRateLimiter(config)]);
      try {
        await a.admitRequest(testPrincipal("alice"), "default");
        await a.admitRequest(testPrincipal("alice"), "default");
        await b.admitRequest(testPrincipal("alice"), "default");
        await a.admitRequest(testPrincipal("bob"), "default");
        const seenByB = await b.usage();
        expect(seenByB.map((u) => [u.principal, u.requests?.used])).toEqual([["alice", 3]]);
        const seenByA = await a.usage();
        expect(seenByA.map((u) => [u.principal, u.requests?.used])).toEqual([
          ["alice", 3],
          ["bob", 1],
        ]);
        expect(seenByA[0]?.windowEndsAt?.getTime()).toBeGreaterThan(Date.now());
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
