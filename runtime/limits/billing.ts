/**
 * What one LLM answer costs against a principal's token budget (`limits.tokensPerWindow`).
 *
 * The rule: every input token counts in full, whether the provider read it from its prompt cache, wrote it
 * to the cache, or processed it anew; output tokens count in full. A token budget caps how much model
 * capacity one principal takes, and providers' own token rate limits count cached prompt tokens too; a
 * discount here would also quietly raise every budget already set. The cached share is recorded apart
 * (audit `cachedInputTokens`, metric `tollgate_cached_input_tokens_total`) for cost reporting and for a
 * spend budget, which prices it at the provider's cached rate.
 */
export interface BilledUsage {
  /** Every input token, cached or not. */
  readonly input: number;
  readonly output: number;
  /** Of `input`, read from the provider's prompt cache. */
  readonly cachedInput: number;
  /** Of `input`, written to the provider's prompt cache. */
  readonly cacheCreationInput: number;
}

/** The tokens `usage` takes from the principal's token budget. */
export function billableTokens(usage: BilledUsage): number {
  return usage.input + usage.output;
}
