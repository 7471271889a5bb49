/**
 * Spend budgets on the LLM stage with a controlled clock and principal: the official openai and
 * @anthropic-ai/sdk clients against the LLM stand-in. Per-agent budgets (the principal carries the bundle's
 * agent), windows that end, streams whose usage arrives last, cached input priced apart, and models without
 * a price.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import type { BundleInput } from "../../policies/bundle/index.js";
import type { Principal } from "../../runtime/http/types.js";
import { testPrincipal } from "../support/llm-config.js";
import { type LlmStage, startLlmStage } from "../support/llm-stage.js";

/** Round prices, so a cost reads off the usage: input 100, cached input 10, cache write 200, output 1000 µ$/token. */
const PRICES = {
  "gpt-4o-mini": { input: 100, cachedInput: 10, output: 1000 },
  "claude-sonnet-4-5": { input: 100, cachedInput: 10, cacheWrite: 200, output: 1000 },
};

let upstream: LlmUpstream;
let stage: LlmStage | undefined;
let clock = Date.UTC(2026, 11, 2, 12, 0, 0);

beforeAll(async () => {
  upstream = await startLlmUpstream({ promptCache: true });
});
afterAll(async () => {
  await upstream?.close();
});
afterEach(async () => {
  await stage?.close();
  stage = undefined;
  clock = Date.UTC(2026, 11, 2, 12, 0, 0);
});

const agentPrincipal = (subject: string, agent?: string): Principal => ({
  ...testPrincipal(subject),
  ...(agent ? { agent } : {}),
});

async function start(spend: BundleInput["spend"], principal: Principal = testPrincipal("alice")): Promise<LlmStage> {
  stage = await startLlmStage(
    (bundle) => {
      bundle.llm = {
        routes: [
          {
            id: "chat",
            pathPrefix: "/chat",
            policy: "default",
            providers: [{ id: "p", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "K" } }],
          },
          {
            id: "claude",
            pathPrefix: "/claude",
            policy: "default",
            providers: [{ id: "a", kind: "anthropic", baseUrl: upstream.url, apiKey: { env: "K" } }],
          },
        ],
      };
      bundle.agents = [
        { id: "coder", clientId: "coder-client", scopes: ["mcp:read"] },
        { id: "triage", clientId: "triage-client", scopes: ["mcp:read"] },
      ];
      bundle.guardPolicies = [{ id: "default" }];
      bundle.spend = spend;
    },
    { secrets: { K: "provider-key" }, now: () => clock, principal },
  );
  return stage;
}

const openai = () => new OpenAI({ baseURL: `${stage?.url}/chat/v1`, apiKey: "unused", maxRetries: 0 });
const ask = (content = "hello there") =>
  openai().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content }] });
const status = (call: Promise<unknown>) =>
  call.then(
    () => 200,
    (error: unknown) => (error instanceof OpenAI.APIError || error instanceof Anthropic.APIError ? error.status : -1),
  );
const costs = () => (stage?.audit ?? []).filter((e) => e.costUsd !== undefined).map((e) => e.costUsd as number);

describe("spend budgets per agent", () => {
  it("an agent's budget is shared by every user it acts for, and other agents and callers are unaffected", async () => {
    await start(
      { prices: PRICES, budgets: [{ id: "coder-daily", per: "agent", agent: "coder", window: "day", maxUsd: 0.001 }] },
      agentPrincipal("alice", "coder"),
    );
    expect(await status(ask())).toBe(200); // crosses the cap: completes and is billed
    expect(costs()[0]).toBeGreaterThan(0.001);
    stage?.actAs(agentPrincipal("bob", "coder"));
    expect(await status(ask())).toBe(429);
    stage?.actAs(agentPrincipal("carol", "triage"));
    expect(await status(ask())).toBe(200);
    stage?.actAs(agentPrincipal("dave"));
    expect(await status(ask())).toBe(200);
    const refused = stage?.audit.find((e) => e.decision === "rate-limited");
    expect(refused).toMatchObject({ principal: "bob", agent: "coder", rule: "spend: coder-daily", status: 429 });
  });
});

describe("spend windows", () => {
  it("refuses until the window ends, with Retry-After to its end, then admits again", async () => {
    await start({ prices: PRICES, budgets: [{ id: "hourly", per: "user", window: { seconds: 3600 }, maxUsd: 0.001 }] });
    clock = Date.UTC(2026, 11, 2, 12, 40, 0);
    expect(await status(ask())).toBe(200);
    const refused = await openai()
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "again" }] })
      .then(
        () => undefined,
        (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
      );
    expect(refused?.status).toBe(429);
    expect(refused?.headers?.get("retry-after")).toBe(String(20 * 60));
    clock = Date.UTC(2026, 11, 2, 13, 0, 0);
    expect(await status(ask())).toBe(200);
  });
});

describe("what a call costs", () => {
  it("bills a stream from the usage at its end, though the client did not ask for usage", async () => {
    await start({ prices: PRICES, budgets: [{ id: "daily", per: "user", window: "day", maxUsd: 0.001 }] });
    const stream = await openai().chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "stream me something" }],
      stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) {
      expect(chunk.usage ?? undefined).toBeUndefined(); // the gateway asked for usage; the client did not get it
      chunks++;
    }
    expect(chunks).toBeGreaterThan(0);
    const line = stage?.audit.find((e) => e.kind === "llm" && e.decision === "allow");
    expect(line?.tokensIn).toBeGreaterThan(0);
    expect(line?.costUsd).toBeCloseTo(((line?.tokensIn ?? 0) * 100 + (line?.tokensOut ?? 0) * 1000) / 1e6, 9);
    expect(await status(ask())).toBe(429); // the stream's cost reached the budget
  });

  it("prices Anthropic cache reads and cache writes each at their own rate (native Messages stream)", async () => {
    await start({ prices: PRICES, budgets: [{ id: "daily", per: "user", window: "day", maxUsd: 1 }] });
    const anthropic = new Anthropic({ baseURL: `${stage?.url}/claude`, apiKey: "unused", maxRetries: 0 });
    const system: Anthropic.TextBlockParam[] = [
      {
        type: "text",
        text: `You are terse. ${"Answer in one line and cite nothing. ".repeat(40)}`,
        cache_control: { type: "ephemeral" },
      },
    ];
    const first: Anthropic.MessageParam = { role: "user", content: "what is a cache?" };
    const answer = await anthropic.messages
      .stream({ model: "claude-sonnet-4-5", max_tokens: 64, system, messages: [first] })
      .finalMessage();
    const messages: Anthropic.MessageParam[] = [
      first,
      { role: "assistant", content: answer.content },
      { role: "user", content: "and a prompt cache?" },
    ];
    await anthropic.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 64, system, messages }).finalMessage();
    const second = stage?.audit.filter((e) => e.kind === "llm" && e.decision === "allow")[1];
    expect(second?.cachedInputTokens).toBeGreaterThan(0);
    expect(second?.cacheCreationInputTokens).toBeGreaterThan(0);
    const { tokensIn = 0, tokensOut = 0, cachedInputTokens = 0, cacheCreationInputTokens = 0 } = second ?? {};
    const expected =
      (tokensIn - cachedInputTokens - cacheCreationInputTokens) * 100 +
      cachedInputTokens * 10 +
      cacheCreationInputTokens * 200 +
      tokensOut * 1000;
    expect(second?.costUsd).toBeCloseTo(expected / 1e6, 9);
    expect(second?.costUsd).not.toBeCloseTo((tokensIn * 100 + tokensOut * 1000) / 1e6, 9);
  });

  it("refuses a model without a price while a budget applies, naming the model and the fix", async () => {
    await start({ prices: PRICES, budgets: [{ id: "daily", per: "user", window: "day", maxUsd: 1 }] });
    const before = upstream.requests.length;
    const refused = await openai()
      .chat.completions.create({ model: "my-local-llama", messages: [{ role: "user", content: "hi" }] })
      .then(
        () => undefined,
        (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
      );
    expect(refused?.status).toBe(400);
    expect(refused?.code).toBe("model_not_priced");
    expect(refused?.message).toContain('model "my-local-llama"');
    expect(refused?.message).toContain("spend.prices");
    expect(upstream.requests.length).toBe(before);
  });

  it("prices a model the table does not list at spend.unknownModelPrice when the bundle sets one", async () => {
    await start({
      defaultPrices: false,
      unknownModelPrice: { input: 1, output: 1 },
      budgets: [{ id: "daily", per: "user", window: "day", maxUsd: 1 }],
    });
    const answer = await openai().chat.completions.create({
      model: "my-local-llama",
      messages: [{ role: "user", content: "hi" }],
    });
    const total = (answer.usage?.prompt_tokens ?? 0) + (answer.usage?.completion_tokens ?? 0);
    expect(costs()).toEqual([total / 1e6]);
  });

  it("records the cost of a call that no budget counts, at the shipped prices", async () => {
    await start(undefined);
    const answer = await ask();
    const usage = answer.usage;
    // gpt-4o-mini at the default table: $0.15 input, $0.60 output per million tokens, rounded up to a micro-dollar.
    const micro = Math.ceil(((usage?.prompt_tokens ?? 0) * 150_000 + (usage?.completion_tokens ?? 0) * 600_000) / 1e6);
    expect(costs()).toEqual([micro / 1e6]);
  });
});
