/**
 * Token usage as the gateway records it, from either provider's wire format. `input` is every prompt token
 * the provider processed, cached or not (OpenAI's `prompt_tokens` already includes its cached tokens;
 * Anthropic reports new, cache-read and cache-write input apart, and they are added up here). The cache
 * counts say how much of `input` was read from or written to the provider's prompt cache, so metrics,
 * audit lines and budgets can tell cheap cached input from new input.
 */
import type { Json } from "../http/json.js";

export interface Usage {
  /** Every input token, cached or not. */
  readonly input: number;
  readonly output: number;
  /** Of `input`: read from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  readonly cachedInput: number;
  /** Of `input`: written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`; 0 for OpenAI). */
  readonly cacheCreationInput: number;
}

export const NO_USAGE: Usage = { input: 0, output: 0, cachedInput: 0, cacheCreationInput: 0 };

/** A count from a provider: a finite, non-negative number, else 0 (a provider's bad field never poisons a budget). */
const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;

/** OpenAI `usage` (chat.completion or the last chunk of a stream with `include_usage`). */
export function openAiUsage(usage: Json | undefined): Usage {
  return {
    input: count(usage?.prompt_tokens),
    output: count(usage?.completion_tokens),
    cachedInput: count(usage?.prompt_tokens_details?.cached_tokens),
    cacheCreationInput: 0,
  };
}

/** OpenAI Responses `usage` (a Response, or the one in `response.completed`): cached tokens are part of `input_tokens`. */
export function responsesWireUsage(usage: Json | undefined): Usage {
  return {
    input: count(usage?.input_tokens),
    output: count(usage?.output_tokens),
    cachedInput: count(usage?.input_tokens_details?.cached_tokens),
    cacheCreationInput: count(usage?.input_tokens_details?.cache_write_tokens),
  };
}

/**
 * Anthropic `usage`. In a stream, `message_start` carries the input counts and `message_delta` the running
 * totals of whichever counts it names: pass the usage so far as `previous`, and a count the event leaves
 * out (or sends as null) keeps its previous value.
 */
export function anthropicUsage(usage: Json | undefined, previous: Usage = NO_USAGE): Usage {
  // Absent and null alike leave the count as it was (the SDK types name these fields `number | null`).
  const pick = (field: string, before: number) => (usage?.[field] == null ? before : count(usage[field]));
  const cachedInput = pick("cache_read_input_tokens", previous.cachedInput);
  const cacheCreationInput = pick("cache_creation_input_tokens", previous.cacheCreationInput);
  const uncached = pick("input_tokens", previous.input - previous.cachedInput - previous.cacheCreationInput);
  return {
    input: uncached + cachedInput + cacheCreationInput,
    output: pick("output_tokens", previous.output),
    cachedInput,
    cacheCreationInput,
  };
}

/** The OpenAI `usage` object for `usage` (what a chat.completions client reads, whatever the provider). */
export function chatUsage(usage: Usage): Json {
  return {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cachedInput },
  };
}

/** The audit fields of `usage`; cache writes only when there were any (only Anthropic reports them). */
export function usageAuditFields(usage: Usage): {
  tokensIn: number;
  tokensOut: number;
  cachedInputTokens: number;
  cacheCreationInputTokens?: number;
} {
  return {
    tokensIn: usage.input,
    tokensOut: usage.output,
    cachedInputTokens: usage.cachedInput,
    ...(usage.cacheCreationInput > 0 ? { cacheCreationInputTokens: usage.cacheCreationInput } : {}),
  };
}
