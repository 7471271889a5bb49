/**
 * What an LLM answer cost, from the provider's reported usage and a price table. Amounts are integer
 * micro-dollars (1 USD = 1 000 000): budgets add them up in stores without float drift, and a price in
 * USD per million tokens is, per token, exactly that many micro-dollars.
 */

/** US dollars per million tokens of each kind. */
export interface ModelPrice {
  /** Input processed anew. */
  readonly input: number;
  /** Input read from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic cache reads). */
  readonly cachedInput: number;
  /** Input written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`). */
  readonly cacheWrite: number;
  readonly output: number;
}

/** A provider's usage, as the gateway reads it (runtime/llm/usage.ts has the same shape). */
export interface TokenUsage {
  /** Every input token, cached or not. */
  readonly input: number;
  readonly output: number;
  /** Of `input`: read from the prompt cache. */
  readonly cachedInput: number;
  /** Of `input`: written to the prompt cache. */
  readonly cacheCreationInput: number;
}

/** Prices by model name, and the price of a model the table does not list (none: such a model has no price). */
export interface PriceTable {
  readonly models: ReadonlyMap<string, ModelPrice>;
  readonly unknownModel: ModelPrice | undefined;
}

/** Micro-dollars in `usd`, to the nearest one. */
export const toMicroUsd = (usd: number): number => Math.round(usd * 1_000_000);
/** Dollars in `micro` micro-dollars. */
export const toUsd = (micro: number): number => micro / 1_000_000;

/**
 * The table of `defaults` (unless left out) with `overrides` on top: an override replaces a model's whole
 * entry. Prices whose cached-input or cache-write price is left out take the input price (no discount is
 * assumed that the bundle did not state).
 */
export function priceTable(
  overrides: Readonly<Record<string, PartialPrice>>,
  defaults: Readonly<Record<string, ModelPrice>> | undefined,
  unknownModel: PartialPrice | undefined,
): PriceTable {
  const models = new Map<string, ModelPrice>(Object.entries(defaults ?? {}));
  for (const [model, price] of Object.entries(overrides)) models.set(model, completePrice(price));
  return { models, unknownModel: unknownModel && completePrice(unknownModel) };
}

/** A price as a bundle may write it: cached-input and cache-write prices optional. */
export interface PartialPrice {
  readonly input: number;
  readonly cachedInput?: number | undefined;
  readonly cacheWrite?: number | undefined;
  readonly output: number;
}

function completePrice(price: PartialPrice): ModelPrice {
  return {
    input: price.input,
    cachedInput: price.cachedInput ?? price.input,
    cacheWrite: price.cacheWrite ?? price.input,
    output: price.output,
  };
}

/** A provider's snapshot suffix: `-2024-07-18` (OpenAI), `-20250929` (Anthropic), or `-latest`. */
const SNAPSHOT_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

/**
 * The price of `model`: its own entry, else its family's (the name without a snapshot suffix:
 * `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`), else the
 * table's price for unknown models. Undefined when none applies.
 */
export function priceOf(table: PriceTable, model: string): ModelPrice | undefined {
  return listedPriceOf(table, model) ?? table.unknownModel;
}

/** `model`'s own or its family's entry, without the unknown-model price. */
export function listedPriceOf(table: PriceTable, model: string): ModelPrice | undefined {
  const own = table.models.get(model);
  if (own) return own;
  const family = model.replace(SNAPSHOT_SUFFIX, "");
  return family === model ? undefined : table.models.get(family);
}

/**
 * The cost of `usage` at `price`, in whole micro-dollars rounded up (the gateway never under-counts):
 * uncached input, cache reads, cache writes and output each at their own price.
 */
export function costMicroUsd(usage: TokenUsage, price: ModelPrice): number {
  const uncached = Math.max(0, usage.input - usage.cachedInput - usage.cacheCreationInput);
  const { cachedInput, cacheCreationInput, output } = usage;
  const input = toMicroUsd(price.input);
  const cacheRead = toMicroUsd(price.cachedInput);
  const cacheWrite = toMicroUsd(price.cacheWrite);
  const out = toMicroUsd(price.output);
  // tokens × (micro-dollars per million tokens) / 1e6, summed exactly in integers (counts are unbounded). In doubles
  // when every count and rate is a non-negative safe integer and so is the sum (any answer's usage at any real price):
  // then every term is exact too, and so is the rounding up: below 2^53 / 1e6 doubles lie less than 2e-6 apart, so
  // a quotient that is not whole (at least 1e-6 from one) is never rounded onto a whole number.
  const numerator = uncached * input + cachedInput * cacheRead + cacheCreationInput * cacheWrite + output * out;
  if (
    Number.isSafeInteger(numerator) &&
    isCount(uncached) &&
    isCount(cachedInput) &&
    isCount(cacheCreationInput) &&
    isCount(output) &&
    isCount(input) &&
    isCount(cacheRead) &&
    isCount(cacheWrite) &&
    isCount(out)
  )
    return Math.ceil(numerator / 1_000_000);
  const big =
    BigInt(uncached) * BigInt(input) +
    BigInt(cachedInput) * BigInt(cacheRead) +
    BigInt(cacheCreationInput) * BigInt(cacheWrite) +
    BigInt(output) * BigInt(out);
  const million = 1_000_000n;
  return Number((big + million - 1n) / million);
}

/** A count or a rate the double arithmetic of {@link costMicroUsd} takes exactly: a non-negative safe integer. */
function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
