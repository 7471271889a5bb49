/**
 * The price table Tollgate ships: list prices of common OpenAI and Anthropic models, in US dollars per
 * million tokens, for standard (not batch, not priority) requests. Pure data. A bundle's `spend.prices`
 * overrides an entry or adds models; `spend.defaultPrices: false` drops this table altogether.
 *
 * Prices change: check them against the vendors' pricing pages. An answer is priced by the model the
 * provider reports (`gpt-4o-mini-2024-07-18` falls back to `gpt-4o-mini`, see ./cost.ts).
 */
import type { ModelPrice } from "./cost.js";

/** The day these list prices were last checked against the vendors' published prices. */
export const DEFAULT_PRICES_AS_OF = "2025-11-24";

/** OpenAI: no charge for writing its prompt cache, so `cacheWrite` is the input price (it is never reported). */
const openAi = (input: number, cachedInput: number, output: number): ModelPrice => ({
  input,
  cachedInput,
  cacheWrite: input,
  output,
});

/** Anthropic: cache reads at a tenth of input, 5-minute cache writes at 1.25 times input. */
const anthropic = (input: number, output: number): ModelPrice => ({
  input,
  cachedInput: input / 10,
  cacheWrite: input * 1.25,
  output,
});

export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  "gpt-5": openAi(1.25, 0.125, 10),
  "gpt-5-mini": openAi(0.25, 0.025, 2),
  "gpt-5-nano": openAi(0.05, 0.005, 0.4),
  "gpt-4.1": openAi(2, 0.5, 8),
  "gpt-4.1-mini": openAi(0.4, 0.1, 1.6),
  "gpt-4.1-nano": openAi(0.1, 0.025, 0.4),
  "gpt-4o": openAi(2.5, 1.25, 10),
  "gpt-4o-mini": openAi(0.15, 0.075, 0.6),
  o3: openAi(2, 0.5, 8),
  "o3-mini": openAi(1.1, 0.55, 4.4),
  "o4-mini": openAi(1.1, 0.275, 4.4),
  "claude-opus-4-5": anthropic(5, 25),
  "claude-opus-4-1": anthropic(15, 75),
  "claude-opus-4": anthropic(15, 75),
  "claude-opus-4-0": anthropic(15, 75),
  "claude-sonnet-4-5": anthropic(3, 15),
  "claude-sonnet-4": anthropic(3, 15),
  "claude-sonnet-4-0": anthropic(3, 15),
  "claude-3-7-sonnet": anthropic(3, 15),
  "claude-haiku-4-5": anthropic(1, 5),
  "claude-3-5-haiku": anthropic(0.8, 4),
  "claude-3-haiku": anthropic(0.25, 1.25),
};
