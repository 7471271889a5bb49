/**
 * Spend as pure decisions: what an answer costs (cached input priced apart, rounding up, snapshot names),
 * which budgets a request counts against, the windows, and the bundle's `spend` section with its errors.
 */
import { describe, expect, it } from "vitest";
import { formatIssue, validateRuntimeBundle } from "../../policies/bundle/index.js";
import {
  DEFAULT_PRICES,
  type SpendBudget,
  budgetSubject,
  costMicroUsd,
  priceOf,
  priceTable,
  spendKey,
  windowAt,
} from "../../policies/spend/index.js";
import { sampleBundle } from "../support/sample-bundle.js";

const table = priceTable({}, DEFAULT_PRICES, undefined);

describe("the cost of an answer", () => {
  it("prices OpenAI cached input at the cached rate, apart from the rest of the prompt", () => {
    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
    const price = priceOf(table, "gpt-4o-mini");
    expect(price).toBeDefined();
    const usage = { input: 2_000_000, output: 1_000_000, cachedInput: 1_000_000, cacheCreationInput: 0 };
    // 1M uncached × 0.15 + 1M cached × 0.075 + 1M output × 0.60 = $0.825
    expect(costMicroUsd(usage, price!)).toBe(825_000);
    const uncached = { ...usage, cachedInput: 0 };
    expect(costMicroUsd(uncached, price!)).toBe(900_000);
  });

  it("prices Anthropic cache reads and cache writes each at their own rate", () => {
    // claude-sonnet-4-5: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    const price = priceOf(table, "claude-sonnet-4-5-20250929")!;
    const usage = {
      input: 1_000_000 + 2_000_000 + 400_000,
      output: 100_000,
      cachedInput: 2_000_000,
      cacheCreationInput: 400_000,
    };
    // 1M × 3 + 2M × 0.30 + 0.4M × 3.75 + 0.1M × 15 = 3 + 0.6 + 1.5 + 1.5 = $6.60
    expect(costMicroUsd(usage, price)).toBe(6_600_000);
  });

  it("rounds a fraction of a micro-dollar up, so many small answers never add up to less than they cost", () => {
    const price = priceOf(table, "gpt-4o-mini")!;
    // 1 output token: 0.6 micro-dollars → 1.
    expect(costMicroUsd({ input: 0, output: 1, cachedInput: 0, cacheCreationInput: 0 }, price)).toBe(1);
    expect(costMicroUsd({ input: 0, output: 0, cachedInput: 0, cacheCreationInput: 0 }, price)).toBe(0);
  });

  it("stays exact for counts past 2^53 / price (integers, no float drift)", () => {
    const price = { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75 };
    const huge = { input: 10 ** 12, output: 10 ** 12, cachedInput: 0, cacheCreationInput: 0 };
    expect(costMicroUsd(huge, price)).toBe(90_000_000_000_000);
  });

  it("rounds up exactly as integer arithmetic does, at any size (near 2^53 as well as small answers)", () => {
    const zero = { input: 0, output: 0, cachedInput: 0, cacheCreationInput: 0 };
    const rates = { input: 0.15, cachedInput: 0.075, cacheWrite: 0.1875, output: 0.6 };
    const exact = (usage: typeof zero, price: typeof rates) => {
      const micro = (usd: number) => BigInt(Math.round(usd * 1_000_000));
      const uncached = BigInt(Math.max(0, usage.input - usage.cachedInput - usage.cacheCreationInput));
      const sum =
        uncached * micro(price.input) +
        BigInt(usage.cachedInput) * micro(price.cachedInput) +
        BigInt(usage.cacheCreationInput) * micro(price.cacheWrite) +
        BigInt(usage.output) * micro(price.output);
      return Number((sum + 999_999n) / 1_000_000n);
    };
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * below);
    };
    for (let i = 0; i < 20_000; i++) {
      // Counts from 0 to ~2^53 / rate: the sums land on both sides of 2^53 and on and off whole millions.
      const scale = 10 ** random(11);
      const usage = {
        input: random(3) * scale * 1000 + random(1000),
        output: random(1000) * scale + random(7),
        cachedInput: random(2) * scale,
        cacheCreationInput: random(2) * random(1000),
      };
      usage.input += usage.cachedInput + usage.cacheCreationInput;
      const price = { input: random(20_000) / 100, cachedInput: random(200) / 100, cacheWrite: 18.75, output: 75 };
      expect(costMicroUsd(usage, price)).toBe(exact(usage, price));
    }
    // 15,011,998,757 output tokens at 600,000 micro-dollars a million: 540,991 below 2^53, not a whole million.
    expect(costMicroUsd({ ...zero, output: 15_011_998_757 }, rates)).toBe(
      exact({ ...zero, output: 15_011_998_757 }, rates),
    );
  });

  it("finds a snapshot's price under its family name, and nothing for an unknown model", () => {
    expect(priceOf(table, "gpt-4o-mini-2024-07-18")).toBe(DEFAULT_PRICES["gpt-4o-mini"]);
    expect(priceOf(table, "claude-3-7-sonnet-latest")).toBe(DEFAULT_PRICES["claude-3-7-sonnet"]);
    expect(priceOf(table, "gpt-4o-audio-preview")).toBeUndefined();
    expect(priceOf(table, "my-local-llama")).toBeUndefined();
  });

  it("a bundle price replaces the default entry and fills missing cache prices with the input price", () => {
    const custom = priceTable(
      { "gpt-4o": { input: 2, output: 8 }, "my-llama": { input: 0.1, output: 0.2 } },
      DEFAULT_PRICES,
      undefined,
    );
    expect(priceOf(custom, "gpt-4o")).toEqual({ input: 2, cachedInput: 2, cacheWrite: 2, output: 8 });
    expect(priceOf(custom, "my-llama")?.output).toBe(0.2);
    expect(priceOf(priceTable({}, undefined, undefined), "gpt-4o")).toBeUndefined();
    expect(priceOf(priceTable({}, undefined, { input: 1, output: 1 }), "anything")?.input).toBe(1);
  });

  it("ships a price for every kind of token of every default model", () => {
    for (const [model, price] of Object.entries(DEFAULT_PRICES))
      for (const value of Object.values(price)) expect(value, model).toBeGreaterThan(0);
  });
});

describe("which budgets a request counts against", () => {
  const request = { route: "openai", user: "alice", agent: "coder" };
  const budget = (b: Partial<SpendBudget>): SpendBudget => ({ id: "b", per: "user", window: "day", maxUsd: 1, ...b });

  it("counts a per-user budget under the verified user, per-agent under the agent, per-route under the route", () => {
    expect(budgetSubject(budget({ per: "user" }), request)).toBe("alice");
    expect(budgetSubject(budget({ per: "agent" }), request)).toBe("coder");
    expect(budgetSubject(budget({ per: "route" }), request)).toBe("openai");
  });

  it("a per-agent budget does not apply to a caller without an agent", () => {
    expect(budgetSubject(budget({ per: "agent" }), { route: "openai", user: "alice" })).toBeUndefined();
  });

  it("a budget narrowed to a route or an agent skips other routes and agents", () => {
    expect(budgetSubject(budget({ route: "anthropic" }), request)).toBeUndefined();
    expect(budgetSubject(budget({ agent: "triage" }), request)).toBeUndefined();
    expect(budgetSubject(budget({ route: "openai", agent: "coder" }), request)).toBe("alice");
  });

  it("keys a subject so that ':' in a sub cannot reach another subject's key", () => {
    expect(spendKey({ id: "b", per: "user" }, "d2026-12-02", "a:b")).toBe("b:d2026-12-02:user:a%3Ab");
  });
});

describe("spend windows", () => {
  const at = Date.UTC(2026, 11, 31, 23, 59, 30); // 2026-12-31T23:59:30Z

  it("a day ends at the next UTC midnight, a month at the first of the next month (across a year)", () => {
    expect(windowAt("day", at)).toEqual({
      id: "d2026-12-31",
      startsAt: Date.UTC(2026, 11, 31),
      endsAt: Date.UTC(2027, 0, 1),
    });
    expect(windowAt("month", at)).toEqual({
      id: "m2026-12",
      startsAt: Date.UTC(2026, 11, 1),
      endsAt: Date.UTC(2027, 0, 1),
    });
  });

  it("fixed windows are aligned to the epoch, so every replica computes the same one", () => {
    const span = windowAt({ seconds: 3600 }, at);
    expect(span.startsAt).toBe(Date.UTC(2026, 11, 31, 23));
    expect(span.endsAt).toBe(Date.UTC(2027, 0, 1));
    expect(span.id).toBe(`s3600-${span.startsAt / 1000}`);
  });
});

describe("the bundle's spend section", () => {
  const withSpend = (spend: unknown, edit: (b: ReturnType<typeof sampleBundle>) => void = () => {}) => {
    const bundle = sampleBundle();
    edit(bundle);
    return validateRuntimeBundle({ ...bundle, spend });
  };
  const problems = (result: ReturnType<typeof withSpend>) => (result.ok ? [] : result.issues.map(formatIssue));

  it("defaults to the shipped price table and no budget", () => {
    const result = validateRuntimeBundle(sampleBundle());
    expect(result.ok && result.bundle.spend).toEqual({ defaultPrices: true, prices: {}, budgets: [] });
  });

  it("accepts prices, an unknown-model price and budgets of every kind", () => {
    const result = withSpend(
      {
        prices: { "my-llama": { input: 0.1, output: 0.2 } },
        unknownModelPrice: { input: 5, output: 20 },
        budgets: [
          { id: "per-user", per: "user", window: "day", maxUsd: 5 },
          { id: "openai-total", per: "route", route: "openai", window: "month", maxUsd: 1000 },
          { id: "coder", per: "agent", agent: "coder", window: { seconds: 3600 }, maxUsd: 2.5 },
        ],
      },
      (b) => void (b.agents = [{ id: "coder", clientId: "0oa-coder", scopes: ["mcp:read"] }]),
    );
    expect(problems(result)).toEqual([]);
  });

  it("names an unknown route or agent, the ones that exist, and where to fix it", () => {
    const found = problems(
      withSpend({
        budgets: [
          { id: "a", per: "user", route: "gemini", window: "day", maxUsd: 1 },
          { id: "b", per: "user", agent: "coder", window: "day", maxUsd: 1 },
        ],
      }),
    );
    expect(found).toEqual([
      'spend.budgets[0].route: unknown LLM route "gemini": expected one of openai, anthropic (or leave route out to count every route) — set GatewayBundle({ spend })',
      'spend.budgets[1].agent: unknown agent "coder": the bundle has no agents (or leave agent out to count every caller) — set GatewayBundle({ spend })',
    ]);
  });

  it("refuses a per-agent budget in a bundle without agents, and duplicate budget ids", () => {
    const found = problems(
      withSpend({
        budgets: [
          { id: "a", per: "agent", window: "day", maxUsd: 1 },
          { id: "a", per: "user", window: "day", maxUsd: 1 },
        ],
      }),
    );
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^spend\.budgets\[0\]\.per: per "agent" counts the bundle's agents, and it has none/);
    expect(found[1]).toMatch(/^spend\.budgets\[1\]\.id: duplicate budget id "a"/);
  });

  it.each([
    [{ budgets: [{ id: "a", per: "user", window: "day", maxUsd: 0 }] }, "spend.budgets[0].maxUsd"],
    [{ budgets: [{ id: "a", per: "team", window: "day", maxUsd: 1 }] }, "spend.budgets[0].per"],
    [{ budgets: [{ id: "a", per: "user", window: "week", maxUsd: 1 }] }, "spend.budgets[0].window"],
    [{ budgets: [{ id: "a", per: "user", window: { seconds: 5 }, maxUsd: 1 }] }, "spend.budgets[0].window"],
    [{ prices: { "gpt-4o": { input: -1, output: 1 } } }, "spend.prices.gpt-4o.input"],
    [{ prices: { "gpt-4o": { input: 1 } } }, "spend.prices.gpt-4o.output"],
    [{ budget: [] }, "spend"],
  ])("refuses %j, naming the field", (spend, path) => {
    const found = problems(withSpend(spend));
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]?.startsWith(path), found[0]).toBe(true);
  });
});
