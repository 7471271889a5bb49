import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimiter } from "../../runtime/limits/index.js";
import { MemoryWindows } from "../../runtime/limits/windows.js";
import { llmTestConfig, testPrincipal } from "../support/llm-config.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";

const limits = (requestsPerWindow?: number, tokensPerWindow?: number) =>
  llmTestConfig((b) => {
    b.guardPolicies = [{ id: "default", limits: { windowSeconds: 60, requestsPerWindow, tokensPerWindow } }];
  });

describe("rate limiter (memory)", () => {
  it("refuses the (N+1)th request in a window with Retry-After and RateLimit headers", async () => {
    const limiter = await createRateLimiter(limits(3));
    const alice = testPrincipal("alice");
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.admitRequest(alice, "default"));
    expect(decisions.slice(0, 3).every((d) => d.allowed)).toBe(true);
    expect(decisions[0]?.headers.ratelimit).toMatch(/^limit=3, remaining=2, reset=\d+$/);
    expect(decisions[0]?.headers["ratelimit-policy"]).toBe("3;w=60");
    const last = decisions[3];
    expect(last?.allowed).toBe(false);
    if (last && !last.allowed) {
      expect(last.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(last.headers["retry-after"]).toBe(String(last.retryAfterSeconds));
      expect(last.headers.ratelimit).toMatch(/^limit=3, remaining=0, reset=\d+$/);
    }
    await limiter.close();
  });

  it("keeps one budget per verified subject: another user is not affected", async () => {
    const limiter = await createRateLimiter(limits(1));
    expect((await limiter.admitRequest(testPrincipal("alice"), "default")).allowed).toBe(true);
    expect((await limiter.admitRequest(testPrincipal("alice"), "default")).allowed).toBe(false);
    expect((await limiter.admitRequest(testPrincipal("bob"), "default")).allowed).toBe(true);
    await limiter.close();
  });

  it("refuses a request before it is sent once the token budget is spent", async () => {
    const limiter = await createRateLimiter(limits(undefined, 100));
    const alice = testPrincipal("alice");
    expect((await limiter.admitRequest(alice, "default")).allowed).toBe(true);
    await limiter.recordTokens(alice, "default", 60);
    expect((await limiter.admitRequest(alice, "default")).allowed).toBe(true);
    await limiter.recordTokens(alice, "default", 60);
    const refused = await limiter.admitRequest(alice, "default");
    expect(refused).toMatchObject({ allowed: false, reason: "token budget spent" });
    await limiter.close();
  });

  it("answers synchronously, and opens a new window once the old one ended", async () => {
    let now = 1_000_000;
    const limiter = await createRateLimiter(limits(2), { now: () => now });
    const alice = testPrincipal("alice");
    const first = limiter.admitRequest(alice, "default");
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toMatchObject({ allowed: true, headers: { ratelimit: "limit=2, remaining=1, reset=60" } });
    now += 59_000;
    expect(limiter.admitRequest(alice, "default")).toMatchObject({
      allowed: true,
      headers: { ratelimit: "limit=2, remaining=0, reset=1" },
    });
    expect(limiter.admitRequest(alice, "default")).toMatchObject({
      allowed: false,
      retryAfterSeconds: 1,
      headers: { "retry-after": "1" },
    });
    now += 1_000;
    expect(limiter.admitRequest(alice, "default")).toMatchObject({
      allowed: true,
      headers: { ratelimit: "limit=2, remaining=1, reset=60" },
    });
    await limiter.close();
  });

  it("does not count a request refused for its spent token budget against the request budget", async () => {
    let now = 0;
    const limiter = await createRateLimiter(limits(2, 10), { now: () => now });
    const alice = testPrincipal("alice");
    expect(limiter.admitRequest(alice, "default")).toMatchObject({ allowed: true });
    await limiter.recordTokens(alice, "default", 10);
    for (let i = 0; i < 3; i++)
      expect(limiter.admitRequest(alice, "default")).toMatchObject({ allowed: false, reason: "token budget spent" });
    now += 60_000;
    // Both windows ended; had the refusals counted, the request budget (2) would be spent already.
    expect(limiter.admitRequest(alice, "default")).toMatchObject({ allowed: true });
    expect(limiter.admitRequest(alice, "default")).toMatchObject({ allowed: true });
    expect(limiter.admitRequest(alice, "default")).toMatchObject({ allowed: false, reason: "request budget spent" });
    await limiter.close();
  });

  it("forgets ended windows when swept, so memory is bounded by the subjects active in a window", () => {
    let now = 0;
    const windows = new MemoryWindows(60_000, () => now);
    for (let i = 0; i < 1000; i++) windows.add(`user-${i}`, 1);
    now += 30_000;
    windows.add("late", 1);
    expect(windows.sweep()).toBe(1001);
    now += 30_000;
    expect(windows.sweep()).toBe(1);
    expect(windows.peek("user-0")).toBeUndefined();
    expect(windows.peek("late")).toEqual({ consumed: 1, msBeforeReset: 30_000 });
  });

  it("admits everything for a policy without limits", async () => {
    const limiter = await createRateLimiter(llmTestConfig((b) => void (b.guardPolicies = [{ id: "default" }])));
    for (let i = 0; i < 5; i++) expect((await limiter.admitRequest(testPrincipal("a"), "default")).allowed).toBe(true);
    await limiter.close();
  });
});

describe("rate limiter (redis)", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const redisConfig = (onUnavailable: "fail-open" | "fail-closed", url: string, keyPrefix: string) =>
    llmTestConfig(
      (b) => {
        b.guardPolicies = [
          { id: "default", limits: { windowSeconds: 60, requestsPerWindow: 5, tokensPerWindow: 1000 } },
        ];
        b.rateLimitStore = { type: "redis", url: { env: "REDIS_URL" }, keyPrefix, onUnavailable };
      },
      { REDIS_URL: url },
    );

  /** How many of `requests` (taking turns between two limiters on one Redis) are admitted for one subject. */
  const admittedByTwoReplicas = async (url: string, keyPrefix: string, requests: number) => {
    const config = redisConfig("fail-closed", url, keyPrefix);
    const [a, b] = await Promise.all([createRateLimiter(config), createRateLimiter(config)]);
    const alice = testPrincipal("alice");
    const results = await Promise.all(
      Array.from({ length: requests }, (_, i) => (i % 2 ? a : b).admitRequest(alice, "default")),
    );
    await Promise.all([a.close(), b.close()]);
    return results.filter((r) => r.allowed).length;
  };

  it("two limiters sharing one redis-server admit at most the budget together", async () => {
    expect(await admittedByTwoReplicas(redis.url, "t1:", 12)).toBe(5);
  });

  it("tokens billed through one replica spend the budget for the other", async () => {
    const config = redisConfig("fail-closed", redis.url, "t4:");
    const [a, b] = await Promise.all([createRateLimiter(config), createRateLimiter(config)]);
    const bob = testPrincipal("bob");
    expect((await b.admitRequest(bob, "default")).allowed).toBe(true);
    await a.recordTokens(bob, "default", 1000);
    expect(await b.admitRequest(bob, "default")).toMatchObject({ allowed: false, reason: "token budget spent" });
    await Promise.all([a.close(), b.close()]);
  });

  it("shares budgets through a Redis that requires a password, and refuses (fail-closed) with a wrong one without recording it", async () => {
    const password = "0123456789abcdef0123456789abcdef";
    const secured = await startRedisServer({ password });
    try {
      expect(await admittedByTwoReplicas(secured.url, "t5:", 8)).toBe(5);

      const alice = testPrincipal("alice");
      const recorded: unknown[] = [];
      const wrongPassword = "fedcba9876543210fedcba9876543210";
      const wrong = await createRateLimiter(
        redisConfig("fail-closed", secured.url.replace(password, wrongPassword), "t5:"),
        { audit: { record: (event) => void recorded.push(event) } },
      );
      expect(await wrong.admitRequest(alice, "default")).toMatchObject({
        allowed: false,
        reason: "rate-limit store unavailable",
      });
      expect(recorded).toEqual([
        expect.objectContaining({ kind: "config", decision: "error", reason: "rate-limit store unavailable" }),
      ]);
      expect(JSON.stringify(recorded)).not.toContain(wrongPassword);
      await wrong.close();
    } finally {
      await secured.stop();
    }
  });

  it("fail-closed refuses and fail-open admits when Redis is unreachable", async () => {
    const down = "redis://127.0.0.1:1";
    const closed = await createRateLimiter(redisConfig("fail-closed", down, "t2:"));
    const open = await createRateLimiter(redisConfig("fail-open", down, "t3:"));
    expect(await closed.admitRequest(testPrincipal("alice"), "default")).toMatchObject({
      allowed: false,
      reason: "rate-limit store unavailable",
    });
    expect((await open.admitRequest(testPrincipal("alice"), "default")).allowed).toBe(true);
    await Promise.all([closed.close(), open.close()]);
  });
});
