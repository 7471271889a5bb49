/**
 * Pure rate-limit decisions: the key a budget is kept under and the headers a response carries.
 * The key is built from the verified `sub` only; nothing a client sends can choose it.
 */

/** The storage key of one principal's budget under one policy. `kind` separates request and token budgets. */
export function rateLimitKey(policyId: string, subject: string, kind: "requests" | "tokens"): string {
  // sub is an opaque string from a verified token; encode it so ':' inside it cannot collide with other keys.
  return `${policyId}:${kind}:${encodeURIComponent(subject)}`;
}

/**
 * The storage key of one agent's budget under one policy (`agents[].id`): beside its users' budgets, never one
 * of them (an encoded `sub` holds no ':', this key does).
 */
export function agentRateLimitKey(policyId: string, agentId: string, kind: "requests" | "tokens"): string {
  return `${policyId}:${kind}:agent:${encodeURIComponent(agentId)}`;
}

export interface BudgetState {
  /** The budget for the window. */
  readonly limit: number;
  /** What is left after this request (never negative). */
  readonly remaining: number;
  /** Seconds until the window resets. */
  readonly resetSeconds: number;
  readonly windowSeconds: number;
}

/** The `RateLimit-Policy` value of these budgets (constant per guard policy: callers may compute it once). */
export function rateLimitPolicy(budgets: readonly Pick<BudgetState, "limit" | "windowSeconds">[]): string {
  return budgets.map((b) => `${b.limit};w=${b.windowSeconds}`).join(", ");
}

/**
 * `RateLimit-Policy` and `RateLimit` headers (IETF httpapi-ratelimit-headers, draft 7:
 * `RateLimit: limit=100, remaining=99, reset=60`). When several budgets apply, the tightest one is
 * reported. The older draft's `RateLimit-Limit/-Remaining/-Reset` triplet says the same again and is not
 * sent: every header is work on every response for no new information,
 * and browsers could not read the triplet anyway (CORS exposes the two draft headers).
 * `policy` is {@link rateLimitPolicy} of `budgets`, when the caller has it already.
 */
export function rateLimitHeaders(
  budgets: readonly BudgetState[],
  policy = rateLimitPolicy(budgets),
): Record<string, string> {
  if (budgets.length === 0) return {};
  let tightest = budgets[0] as BudgetState;
  for (const b of budgets) if (b.remaining / b.limit < tightest.remaining / tightest.limit) tightest = b;
  return {
    "ratelimit-policy": policy,
    ratelimit: `limit=${tightest.limit}, remaining=${Math.max(0, tightest.remaining)}, reset=${Math.max(0, Math.ceil(tightest.resetSeconds))}`,
  };
}

/** Seconds a refused caller should wait: at least 1, rounded up. */
export function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}
