/**
 * Per-principal rate limits: requests per window and LLM tokens per window, per guard policy, keyed by
 * the verified `sub` (policies/limits `rateLimitKey`) and, when an agent acts, by the agent as well
 * (`agentRateLimitKey`): an agent acting for a user spends both budgets, an agent alone its own. Budgets are counted in fixed windows (./windows.ts):
 * in memory (one replica) or in Redis through ioredis and `rate-limiter-flexible` (several replicas share
 * one budget atomically: the library increments with a Lua script).
 *
 * Tokens are billed after the response from the provider's usage numbers (`recordTokens`), so a request
 * is admitted while the window still has budget and refused before it is sent once the budget is spent.
 *
 * Redis unreachable: the bundle's `rateLimitStore.onUnavailable` decides. The default is `fail-closed`
 * (refuse with 429 + Retry-After), because the budgets exist to cap spend and abuse: an outage of the
 * limit store must not turn into an unlimited budget. `fail-open` admits and records an audit event,
 * for teams that prefer availability. Token billing failures never fail a response already served.
 */
import { waitForReady } from "./redis-ready.js";
import { Redis } from "ioredis";
import type { GuardPolicy } from "../../policies/bundle/index.js";
import {
  type BudgetState,
  agentRateLimitKey,
  rateLimitHeaders,
  rateLimitKey,
  rateLimitPolicy,
  retryAfterSeconds,
} from "../../policies/limits/index.js";
import { type MaybePromise, andThen } from "../http/stage.js";
import type { ActiveConfig, LimitDecision, Principal, RateLimiter } from "../http/types.js";
import type { AuditLog } from "../observability/audit.js";
import { MemoryWindows, RedisWindows, type WindowCount, type WindowStore } from "./windows.js";

interface Budget {
  readonly store: WindowStore;
  /** The budget per window. */
  readonly points: number;
}

interface PolicyLimiters {
  readonly windowSeconds: number;
  readonly requests: Budget | undefined;
  readonly tokens: Budget | undefined;
  /** `RateLimit-Policy` of an admitted request (every budget of the policy). */
  readonly policyHeader: string;
  /** The storage keys of a subject's budgets. */
  keysOf(subject: string): BudgetKeys;
  /** The storage keys of an agent's budgets (`agents[].id`). */
  agentKeysOf(agent: string): BudgetKeys;
  /** Subjects whose keys are remembered, oldest first (the subjects this replica has seen recently). */
  recentSubjects(): Iterable<string>;
  /** Agents whose keys are remembered (agents are declared: a bounded set). */
  recentAgents(): Iterable<string>;
}

interface BudgetKeys {
  readonly requests: string;
  readonly tokens: string;
}

/** Subjects whose budget keys are remembered per policy (they are built on every request otherwise). */
const KEY_CACHE_SIZE = 10_000;
/** Subjects per policy whose windows `usage()` reads (the most recently seen): bounds the Redis reads. */
const USAGE_SUBJECTS = 500;

/** One budget of one principal in the current window. */
export interface BudgetUsage {
  readonly used: number;
  readonly limit: number;
}

/** What one principal has spent of one guard policy's budgets in the open window. */
export interface PrincipalUsage {
  readonly principal: string;
  readonly policy: string;
  readonly requests?: BudgetUsage;
  readonly tokens?: BudgetUsage;
  readonly windowEndsAt?: Date;
}

/** A limiter that can also say what principals have spent (the operator console's limits page). */
export interface UsageReportingLimiter extends RateLimiter {
  /**
   * Usage of the principals this replica has seen recently (at most 500 per policy), with an open window in
   * the active store. With Redis, the counts are the shared ones; principals seen only by other replicas are
   * not listed.
   */
  usage(): Promise<PrincipalUsage[]>;
}

export interface RateLimiterOptions {
  /** Where store outages are recorded (kind "config", decision "error"). */
  readonly audit?: AuditLog;
  /** Clock of the memory store (tests pass a controllable one). @default Date.now */
  readonly now?: () => number;
}

const SWEEP_AT_LEAST_EVERY_MS = 3_600_000;

const ALLOW_ALL: LimitDecision = { allowed: true, headers: {} };

/**
 * Builds the limiter for a bundle. With a Redis store, waits briefly for the connection but never fails the
 * start on it. With the memory store every answer is synchronous (no promise per request).
 */
export async function createRateLimiter(
  config: ActiveConfig,
  options: RateLimiterOptions = {},
): Promise<UsageReportingLimiter> {
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

  const memoryStores: MemoryWindows[] = [];
  const windowStore = (windowSeconds: number, kind: string): WindowStore => {
    if (redis) return new RedisWindows(redis, windowSeconds, `${keyPrefix}${kind}`);
    const memory = new MemoryWindows(windowSeconds * 1000, options.now);
    memoryStores.push(memory);
    return memory;
  };
  const byPolicy = new Map<string, PolicyLimiters>();
  /** Policies of the bundle, with or without limits: any other id is a wiring error and refused. */
  const knownPolicies = new Set(config.bundle.guardPolicies.map((p) => p.id));
  for (const policy of config.bundle.guardPolicies) {
    const limits = policy.limits;
    if (!limits || (limits.requestsPerWindow === undefined && limits.tokensPerWindow === undefined)) continue;
    byPolicy.set(policy.id, buildLimiters(policy.id, limits, windowStore));
  }
  // Ended windows are forgotten once per shortest window (at least hourly), so memory stays bounded by the
  // subjects active in a window.
  const sweepMs = Math.min(SWEEP_AT_LEAST_EVERY_MS, ...[...byPolicy.values()].map((l) => l.windowSeconds * 1000));
  const sweeper =
    memoryStores.length > 0 ? setInterval(() => memoryStores.forEach((m) => m.sweep()), sweepMs) : undefined;
  sweeper?.unref();

  const unavailable = (principal: Principal, policyId: string): LimitDecision => {
    options.audit?.record({
      kind: "config",
      decision: "error",
      principal: principal.subject,
      rule: `limits: ${policyId}`,
      reason: "rate-limit store unavailable",
    });
    if (failOpen) return ALLOW_ALL;
    return {
      allowed: false,
      retryAfterSeconds: 1,
      reason: "rate-limit store unavailable",
      headers: { "retry-after": "1" },
    };
  };

  // Fail closed: a policy id the bundle does not define must not mean "no limit".
  const unknownPolicy = (principal: Principal, policyId: string): LimitDecision => {
    options.audit?.record({
      kind: "config",
      decision: "error",
      principal: principal.subject,
      rule: `limits: ${policyId}`,
      reason: `unknown guard policy "${policyId}": refused`,
    });
    return {
      allowed: false,
      retryAfterSeconds: 60,
      reason: `unknown guard policy "${policyId}"`,
      headers: { "retry-after": "60" },
    };
  };

  const billTokens = (budget: Budget, key: string, tokens: number) => budget.store.add(key, Math.ceil(tokens));

  return {
    admitRequest(principal, policyId) {
      const limiters = byPolicy.get(policyId);
      if (!limiters) return knownPolicies.has(policyId) ? ALLOW_ALL : unknownPolicy(principal, policyId);
      const { agent } = principal;
      // An agent alone spends only its own budget; acting for a user, the user's and its own.
      const decision =
        agent === undefined
          ? admit(limiters, limiters.keysOf(principal.subject))
          : principal.delegation === undefined
            ? admit(limiters, limiters.agentKeysOf(agent))
            : admitBoth(limiters, limiters.keysOf(principal.subject), limiters.agentKeysOf(agent));
      return decision instanceof Promise ? decision.catch(() => unavailable(principal, policyId)) : decision;
    },

    recordTokens(principal, policyId, tokens) {
      const limiters = byPolicy.get(policyId);
      const budget = limiters?.tokens;
      if (!limiters || !budget || !(tokens > 0)) return;
      const { agent } = principal;
      const billed =
        agent === undefined
          ? billTokens(budget, limiters.keysOf(principal.subject).tokens, tokens)
          : principal.delegation === undefined
            ? billTokens(budget, limiters.agentKeysOf(agent).tokens, tokens)
            : Promise.all([
                billTokens(budget, limiters.keysOf(principal.subject).tokens, tokens),
                billTokens(budget, limiters.agentKeysOf(agent).tokens, tokens),
              ]);
      if (billed instanceof Promise) {
        return billed.then(
          () => undefined,
          () =>
            options.audit?.record({
              kind: "config",
              decision: "error",
              principal: principal.subject,
              rule: `limits: ${policyId}`,
              reason: "could not bill tokens: rate-limit store unavailable",
            }),
        );
      }
    },

    async usage() {
      const now = Date.now();
      const perPolicy = await Promise.all(
        [...byPolicy].map(([policy, limiters]) =>
          Promise.all([
            ...lastOf(limiters.recentSubjects(), USAGE_SUBJECTS).map((subject) =>
              usageOf(policy, limiters, subject, limiters.keysOf(subject), now),
            ),
            ...[...limiters.recentAgents()].map((agent) =>
              usageOf(policy, limiters, `agent:${agent}`, limiters.agentKeysOf(agent), now),
            ),
          ]),
        ),
      );
      return perPolicy.flat().filter((u): u is PrincipalUsage => u !== undefined);
    },

    async close() {
      clearInterval(sweeper);
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}

/**
 * The token budget must not be spent (checked first, so a refused request is not counted), then the request
 * is counted against the request budget. Admitted requests report every budget, tokens first.
 */
function admit(limiters: PolicyLimiters, keys: BudgetKeys): MaybePromise<LimitDecision> {
  const { tokens, requests } = limiters;
  return andThen(tokens?.store.peek(keys.tokens), (spent) => {
    const tokenState = tokens && stateOf(limiters, tokens, spent);
    if (tokenState && tokenState.remaining <= 0) return refuse("token budget spent", tokenState);
    if (!requests) return admitted(limiters, tokenState ? [tokenState] : []);
    return andThen(requests.store.add(keys.requests, 1), (counted) => {
      const requestState = stateOf(limiters, requests, counted);
      if (requestState.remaining < 0) return refuse("request budget spent", { ...requestState, remaining: 0 });
      return admitted(limiters, tokenState ? [tokenState, requestState] : [requestState]);
    });
  });
}

function stateOf(limiters: PolicyLimiters, budget: Budget, count: WindowCount | undefined): BudgetState {
  return {
    limit: budget.points,
    remaining: budget.points - (count?.consumed ?? 0),
    resetSeconds: (count?.msBeforeReset ?? limiters.windowSeconds * 1000) / 1000,
    windowSeconds: limiters.windowSeconds,
  };
}

/** The refusal `admit` would give these keys now, without counting anything; undefined when there is room. */
function spentBudget(limiters: PolicyLimiters, keys: BudgetKeys): MaybePromise<LimitDecision | undefined> {
  const { tokens, requests } = limiters;
  return andThen(tokens?.store.peek(keys.tokens), (spent) => {
    const tokenState = tokens && stateOf(limiters, tokens, spent);
    if (tokenState && tokenState.remaining <= 0) return refuse("token budget spent", tokenState);
    return andThen(requests?.store.peek(keys.requests), (counted) => {
      const requestState = requests && stateOf(limiters, requests, counted);
      return requestState && requestState.remaining <= 0
        ? refuse("request budget spent", { ...requestState, remaining: 0 })
        : undefined;
    });
  });
}

/**
 * An agent acting for a user: both budgets must have room, and a request one refuses is counted against neither
 * (the agent's is looked at first, then the user's is counted, then the agent's). The user's headers are sent.
 */
function admitBoth(limiters: PolicyLimiters, user: BudgetKeys, agent: BudgetKeys): MaybePromise<LimitDecision> {
  return andThen(spentBudget(limiters, agent), (agentSpent) =>
    agentSpent
      ? agentSpent
      : andThen(admit(limiters, user), (forUser) =>
          forUser.allowed ? andThen(admit(limiters, agent), (own) => (own.allowed ? forUser : own)) : forUser,
        ),
  );
}

function admitted(limiters: PolicyLimiters, budgets: BudgetState[]): LimitDecision {
  return { allowed: true, headers: rateLimitHeaders(budgets, limiters.policyHeader) };
}

function refuse(reason: string, budget: BudgetState): LimitDecision {
  const retryAfter = retryAfterSeconds(budget.resetSeconds * 1000);
  return {
    allowed: false,
    retryAfterSeconds: retryAfter,
    reason,
    headers: { ...rateLimitHeaders([budget]), "retry-after": String(retryAfter) },
  };
}

function buildLimiters(
  policyId: string,
  limits: NonNullable<GuardPolicy["limits"]>,
  windowStore: (windowSeconds: number, kind: string) => WindowStore,
): PolicyLimiters {
  const windowSeconds = limits.windowSeconds;
  const requests =
    limits.requestsPerWindow !== undefined
      ? { store: windowStore(windowSeconds, "req"), points: limits.requestsPerWindow }
      : undefined;
  const tokens =
    limits.tokensPerWindow !== undefined
      ? { store: windowStore(windowSeconds, "tok"), points: limits.tokensPerWindow }
      : undefined;
  // Admitted requests report every budget, tokens first (see admit).
  const policyHeader = rateLimitPolicy([
    ...(tokens ? [{ limit: tokens.points, windowSeconds }] : []),
    ...(requests ? [{ limit: requests.points, windowSeconds }] : []),
  ]);
  const keys = new Map<string, BudgetKeys>();
  const keysOf = (subject: string): BudgetKeys => {
    let found = keys.get(subject);
    if (!found) {
      if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value as string); // the oldest
      found = {
        requests: rateLimitKey(policyId, subject, "requests"),
        tokens: rateLimitKey(policyId, subject, "tokens"),
      };
      keys.set(subject, found);
    }
    return found;
  };
  const agentKeys = new Map<string, BudgetKeys>();
  const agentKeysOf = (agent: string): BudgetKeys => {
    let found = agentKeys.get(agent);
    if (!found) {
      found = {
        requests: agentRateLimitKey(policyId, agent, "requests"),
        tokens: agentRateLimitKey(policyId, agent, "tokens"),
      };
      agentKeys.set(agent, found);
    }
    return found;
  };
  return {
    windowSeconds,
    requests,
    tokens,
    policyHeader,
    keysOf,
    agentKeysOf,
    recentSubjects: () => keys.keys(),
    recentAgents: () => agentKeys.keys(),
  };
}

function lastOf<T>(items: Iterable<T>, count: number): T[] {
  const all = [...items];
  return all.slice(Math.max(0, all.length - count));
}

/** One subject's (or agent's) open windows of one policy; undefined when neither budget has an open window. */
async function usageOf(
  policy: string,
  limiters: PolicyLimiters,
  principal: string,
  keys: BudgetKeys,
  now: number,
): Promise<PrincipalUsage | undefined> {
  const [requests, tokens] = await Promise.all([
    limiters.requests?.store.peek(keys.requests),
    limiters.tokens?.store.peek(keys.tokens),
  ]);
  if (!requests && !tokens) return undefined;
  const endsIn = Math.max(requests?.msBeforeReset ?? 0, tokens?.msBeforeReset ?? 0);
  return {
    principal,
    policy,
    ...(limiters.requests ? { requests: { used: requests?.consumed ?? 0, limit: limiters.requests.points } } : {}),
    ...(limiters.tokens ? { tokens: { used: tokens?.consumed ?? 0, limit: limiters.tokens.points } } : {}),
    windowEndsAt: new Date(now + endsIn),
  };
}
