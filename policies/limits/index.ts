/**
 * Pure rate-limit decisions: the key a budget is kept under and the headers a response carries.
 * The key is built from the verified `sub` only; nothing a client sends can choose it.
 */

/** The storage key of one principal's budget under one policy. `kind` separates request and token budgets. */
export function rateLimitKey(policyId: string, subject: string, kind: "requests" | "tokens"): string {
  // sub is an opaque string from a verified token; encode it so ':' inside it cannot collide with other keys.
  return `${policyId}:${kind}:${encodeURIComponent(subject)}`;
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

/**
 * `RateLimit-Policy` / `RateLimit` headers (IETF httpapi-ratelimit-headers draft) plus the widely used
 * `RateLimit-Limit/-Remaining/-Reset` triplet. When several budgets apply, the tightest one is reported.
 */
export function rateLimitHeaders(budgets: readonly BudgetState[]): Record<string, string> {
  if (budgets.length === 0) return {};
  const tightest = budgets.reduce((a, b) => (b.remaining / b.limit < a.remaining / a.limit ? b : a));
  const reset = Math.max(0, Math.ceil(tightest.resetSeconds));
  return {
    "ratelimit-policy": budgets.map((b) => `${b.limit};w=${b.windowSeconds}`).join(", "),
    ratelimit: `limit=${tightest.limit}, remaining=${Math.max(0, tightest.remaining)}, reset=${reset}`,
    "ratelimit-limit": String(tightest.limit),
    "ratelimit-remaining": String(Math.max(0, tightest.remaining)),
    "ratelimit-reset": String(reset),
  };
}

/** Seconds a refused caller should wait: at least 1, rounded up. */
export function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}
