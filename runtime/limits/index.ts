/**
 * Per-principal rate limits: requests per window and LLM tokens per window, per guard policy, keyed by
 * the verified `sub` (policies/limits `rateLimitKey`). Counting is done by `rate-limiter-flexible`, in
 * memory (one replica) or in Redis through ioredis (several replicas share one budget atomically: the
 * library increments with a Lua script).
 *
 * Tokens are billed after the response from the provider's usage numbers (`recordTokens`), so a request
 * is admitted while the window still has budget and refused before it is sent once the budget is spent.
 *
 * Redis unreachable: the bundle's `rateLimitStore.onUnavailable` decides. The default is `fail-closed`
 * (refuse with 429 + Retry-After), because the budgets exist to cap spend and abuse: an outage of the
 * limit store must not turn into an unlimited budget. `fail-open` admits and records an audit event,
 * for teams that prefer availability. Token billing failures never fail a response already served.
 */
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { GuardPolicy } from "../../policies/bundle";
import { type BudgetState, rateLimitHeaders, rateLimitKey, rateLimitPolicy, retryAfterSeconds } from "../../policies/limits";
import type { ActiveConfig, LimitDecision, Principal, RateLimiter } from "../http/types";
import type { AuditLog } from "../observability/audit";

interface PolicyLimiters {
  readonly windowSeconds: number;
  readonly requests: { readonly limiter: RateLimiterAbstract; readonly points: number } | undefined;
  readonly tokens: { readonly limiter: RateLimiterAbstract; readonly points: number } | undefined;
  /** `RateLimit-Policy` of an admitted request (every budget of the policy). */
  readonly policyHeader: string;
  /** The storage keys of a subject's budgets. */
  keysOf(subject: string): BudgetKeys;
}

interface BudgetKeys {
  readonly requests: string;
  readonly tokens: string;
}

/** Subjects whose budget keys are remembered per policy (they are built on every request otherwise). */
const KEY_CACHE_SIZE = 10_000;

export interface RateLimiterOptions {
  /** Where store outages are recorded (kind "config", decision "error"). */
  readonly audit?: AuditLog;
}

const ALLOW_ALL: LimitDecision = { allowed: true, headers: {} };

/** Builds the limiter for a bundle. With a Redis store, waits briefly for the connection but never fails the start on it. */
export async function createRateLimiter(config: ActiveConfig, options: RateLimiterOptions = {}): Promise<RateLimiter> {
  const store = config.bundle.rateLimitStore;
  let redis: Redis | undefined;
  let failOpen = false;
  let keyPrefix = "tollgate:rl:";
  if (store.type === "redis") {
    failOpen = store.onUnavailable === "fail-open";
    keyPrefix = store.keyPrefix;
    redis = new Redis(config.secrets.read(store.url), {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // Keep reconnecting (capped back-off) so the limiter recovers when Redis comes back.
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    // ioredis reports connection errors as events; without a listener they would crash the process.
    redis.on("error", () => {});
    await waitForReady(redis, 2000);
  }

  const byPolicy = new Map<string, PolicyLimiters>();
  for (const policy of config.bundle.guardPolicies) {
    const limits = policy.limits;
    if (!limits || (limits.requestsPerWindow === undefined && limits.tokensPerWindow === undefined)) continue;
    byPolicy.set(policy.id, buildLimiters(policy.id, limits, redis, keyPrefix));
  }

  const unavailable = (principal: Principal, policyId: string): LimitDecision => {
    options.audit?.record({ kind: "config", decision: "error", principal: principal.subject, rule: `limits: ${policyId}`, reason: "rate-limit store unavailable" });
    if (failOpen) return ALLOW_ALL;
    return { allowed: false, retryAfterSeconds: 1, reason: "rate-limit store unavailable", headers: { "retry-after": "1" } };
  };

  return {
    async admitRequest(principal, policyId) {
      const limiters = byPolicy.get(policyId);
      if (!limiters) return ALLOW_ALL;
      const budgets: BudgetState[] = [];
      const keys = limiters.keysOf(principal.subject);
      try {
        if (limiters.tokens) {
          const spent = await limiters.tokens.limiter.get(keys.tokens);
          const consumed = spent?.consumedPoints ?? 0;
          const resetMs = spent?.msBeforeNext ?? limiters.windowSeconds * 1000;
          const state = { limit: limiters.tokens.points, remaining: limiters.tokens.points - consumed, resetSeconds: resetMs / 1000, windowSeconds: limiters.windowSeconds };
          if (consumed >= limiters.tokens.points) return refuse("token budget spent", resetMs, [state]);
          budgets.push(state);
        }
        if (limiters.requests) {
          try {
            const res = await limiters.requests.limiter.consume(keys.requests, 1);
            budgets.push({ limit: limiters.requests.points, remaining: res.remainingPoints, resetSeconds: res.msBeforeNext / 1000, windowSeconds: limiters.windowSeconds });
          } catch (rejection) {
            if (!(rejection instanceof RateLimiterRes)) throw rejection;
            const state = { limit: limiters.requests.points, remaining: 0, resetSeconds: rejection.msBeforeNext / 1000, windowSeconds: limiters.windowSeconds };
            return refuse("request budget spent", rejection.msBeforeNext, [state]);
          }
        }
      } catch {
        return unavailable(principal, policyId);
      }
      return { allowed: true, headers: rateLimitHeaders(budgets, limiters.policyHeader) };
    },

    async recordTokens(principal, policyId, tokens) {
      const limiters = byPolicy.get(policyId);
      if (!limiters?.tokens || !(tokens > 0)) return;
      try {
        await limiters.tokens.limiter.penalty(limiters.keysOf(principal.subject).tokens, Math.ceil(tokens));
      } catch {
        options.audit?.record({ kind: "config", decision: "error", principal: principal.subject, rule: `limits: ${policyId}`, reason: "could not bill tokens: rate-limit store unavailable" });
      }
    },

    async close() {
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}

function refuse(reason: string, msBeforeNext: number, budgets: BudgetState[]): LimitDecision {
  const retryAfter = retryAfterSeconds(msBeforeNext);
  return { allowed: false, retryAfterSeconds: retryAfter, reason, headers: { ...rateLimitHeaders(budgets), "retry-after": String(retryAfter) } };
}

function buildLimiters(policyId: string, limits: NonNullable<GuardPolicy["limits"]>, redis: Redis | undefined, keyPrefix: string): PolicyLimiters {
  const make = (points: number, kind: string): RateLimiterAbstract =>
    redis
      ? new RateLimiterRedis({ storeClient: redis, points, duration: limits.windowSeconds, keyPrefix: `${keyPrefix}${kind}`, rejectIfRedisNotReady: true })
      : new RateLimiterMemory({ points, duration: limits.windowSeconds, keyPrefix: kind });
  const windowSeconds = limits.windowSeconds;
  const requests = limits.requestsPerWindow !== undefined ? { limiter: make(limits.requestsPerWindow, "req"), points: limits.requestsPerWindow } : undefined;
  const tokens = limits.tokensPerWindow !== undefined ? { limiter: make(limits.tokensPerWindow, "tok"), points: limits.tokensPerWindow } : undefined;
  // Admitted requests report every budget, tokens first (see admitRequest).
  const policyHeader = rateLimitPolicy([...(tokens ? [{ limit: tokens.points, windowSeconds }] : []), ...(requests ? [{ limit: requests.points, windowSeconds }] : [])]);
  const keys = new Map<string, BudgetKeys>();
  const keysOf = (subject: string): BudgetKeys => {
    let found = keys.get(subject);
    if (!found) {
      if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value as string); // the oldest
      found = { requests: rateLimitKey(policyId, subject, "requests"), tokens: rateLimitKey(policyId, subject, "tokens") };
      keys.set(subject, found);
    }
    return found;
  };
  return { windowSeconds, requests, tokens, policyHeader, keysOf };
}

/** Waits until Redis is ready, its first connection attempt failed, or `timeoutMs` passed. */
function waitForReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      redis.off("error", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once("ready", done);
    redis.once("error", done);
  });
}
