/**
 * Reading the providers' usage fields: cached input kept apart from, and counted within, input; stream
 * events that name only some counts; and values a provider should never send.
 */
import { describe, expect, it } from "vitest";
import { billableTokens } from "../../runtime/limits/billing.js";
import { anthropicUsage, chatUsage, openAiUsage } from "../../runtime/llm/usage.js";

describe("provider usage", () => {
  it("reads OpenAI cached_tokens as part of prompt_tokens", () => {
    expect(
      openAiUsage({ prompt_tokens: 1200, completion_tokens: 30, prompt_tokens_details: { cached_tokens: 1024 } }),
    ).toEqual({ input: 1200, output: 30, cachedInput: 1024, cacheCreationInput: 0 });
  });

  it("adds Anthropic cache reads and writes to input, and keeps them apart", () => {
    expect(
      anthropicUsage({
        input_tokens: 20,
        cache_read_input_tokens: 1000,
        cache_creation_input_tokens: 300,
        output_tokens: 7,
      }),
    ).toEqual({ input: 1320, output: 7, cachedInput: 1000, cacheCreationInput: 300 });
  });

  it("a stream's message_delta updates only the counts it names; null leaves a count as it was", () => {
    const start = anthropicUsage({ input_tokens: 20, cache_read_input_tokens: 1000, output_tokens: 1 });
    expect(anthropicUsage({ output_tokens: 55 }, start)).toEqual({
      input: 1020,
      output: 55,
      cachedInput: 1000,
      cacheCreationInput: 0,
    });
    expect(anthropicUsage({ output_tokens: 55, cache_read_input_tokens: null, input_tokens: 25 }, start)).toEqual({
      input: 1025,
      output: 55,
      cachedInput: 1000,
      cacheCreationInput: 0,
    });
  });

  it.each([
    ["negative", -5],
    ["fractional", 2.5],
    ["a string", "100"],
    ["infinite", Number.POSITIVE_INFINITY],
  ])("a %s count from a provider becomes a whole, non-negative, finite count", (_name, value) => {
    const usage = openAiUsage({
      prompt_tokens: value,
      completion_tokens: 1,
      prompt_tokens_details: { cached_tokens: value },
    });
    for (const count of [usage.input, usage.cachedInput]) {
      expect(Number.isSafeInteger(count)).toBe(true);
      expect(count).toBeGreaterThanOrEqual(0);
    }
    expect(Number.isSafeInteger(billableTokens(usage))).toBe(true);
  });

  it("answers chat.completions clients with cached_tokens in prompt_tokens_details", () => {
    expect(chatUsage({ input: 1320, output: 7, cachedInput: 1000, cacheCreationInput: 300 })).toEqual({
      prompt_tokens: 1320,
      completion_tokens: 7,
      total_tokens: 1327,
      prompt_tokens_details: { cached_tokens: 1000 },
    });
  });

  it("bills every token against the budget, cached or not", () => {
    expect(billableTokens({ input: 1320, output: 7, cachedInput: 1000, cacheCreationInput: 300 })).toBe(1327);
  });
});
