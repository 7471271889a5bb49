/**
 * Spend budgets through the real gateway: real user tokens from the oidc-provider Okta stand-in, the
 * official openai and @anthropic-ai/sdk clients, the LLM stand-in. A per-user budget hits its cap, the
 * next call of that user gets 429 with the budget in the body, another user is unaffected; a per-route
 * budget refuses Anthropic clients in Anthropic's error shape.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { createGatewayMetrics } from "../../runtime/observability/metrics.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

let upstream: LlmUpstream;
let platform: TestPlatform;

/** The budgets' cap: one answer of the stand-in (tens of tokens at 100–1000 µ$ a token) crosses it. */
const CAP_USD = 0.001;

beforeAll(async () => {
  upstream = await startLlmUpstream();
  platform = await startTestPlatform({
    env: { GW_KEY: "gw-provider-key-for-tests" },
    bundle: (bundle) => ({
      ...bundle,
      llm: {
        routes: [
          {
            id: "openai",
            pathPrefix: "/openai",
            policy: "default",
            providers: [{ id: "openai", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "GW_KEY" } }],
          },
          {
            id: "anthropic",
            pathPrefix: "/anthropic",
            policy: "default",
            providers: [{ id: "anthropic", kind: "anthropic", baseUrl: upstream.url, apiKey: { env: "GW_KEY" } }],
          },
        ],
      },
      guardPolicies: [{ id: "default" }],
      spend: {
        prices: {
          "gpt-4o-mini": { input: 100, output: 1000 },
          "claude-haiku-4-5": { input: 100, output: 1000 },
        },
        budgets: [
          { id: "user-daily", per: "user", route: "openai", window: "day", maxUsd: CAP_USD },
          { id: "claude-monthly", per: "route", route: "anthropic", window: "month", maxUsd: CAP_USD },
        ],
      },
    }),
  });
}, 60_000);

afterAll(async () => {
  await platform?.close();
  await upstream?.close();
});

const openaiFor = (token: string) => new OpenAI({ baseURL: `${platform.url}/openai/v1`, apiKey: token, maxRetries: 0 });
const chat = (client: OpenAI, content: string) =>
  client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content }] });
const refusal = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
  );

describe("spend budgets with real clients", () => {
  it("a user's budget stops that user at its cap with a 429 naming the budget; another user goes on", async () => {
    const alice = openaiFor(await platform.userToken("alice"));
    const bob = openaiFor(await platform.userToken("bob"));

    const first = await chat(alice, "Summarize the quarterly numbers for the team, please.");
    expect(first.choices[0]?.message.content).toBeTruthy(); // the call that crosses the cap completes
    const billed = platform.audit.find((e) => e.kind === "llm" && e.principal === "alice" && e.costUsd !== undefined);
    expect(billed?.costUsd).toBeGreaterThan(CAP_USD);
    const upstreamCalls = upstream.requests.length;

    const refused = await refusal(chat(alice, "And the next quarter?"));
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused?.code).toBe("spend_budget_exceeded");
    expect(refused?.message).toContain('spend budget "user-daily"');
    const tomorrow = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1),
    );
    expect((refused?.error as Record<string, unknown>).budget).toEqual({
      id: "user-daily",
      per: "user",
      route: "openai",
      window: "day",
      spentUsd: billed?.costUsd,
      maxUsd: CAP_USD,
      windowEndsAt: tomorrow.toISOString(),
    });
    const retryAfter = Number(refused?.headers?.get("retry-after"));
    expect(Math.abs(retryAfter - (tomorrow.getTime() - Date.now()) / 1000)).toBeLessThan(5);
    expect(upstream.requests.length).toBe(upstreamCalls); // refused before the call

    expect((await chat(bob, "Hello from Bob.")).choices).toHaveLength(1);
    expect(platform.audit.filter((e) => e.principal === "alice" && e.decision === "rate-limited")).toEqual([
      expect.objectContaining({ rule: "spend: user-daily", status: 429, route: "openai" }),
    ]);
  });

  it("a route's budget refuses Anthropic SDK clients in Anthropic's error shape, whoever calls", async () => {
    const anthropicFor = async (user: string) =>
      new Anthropic({
        baseURL: `${platform.url}/anthropic`,
        authToken: await platform.userToken(user),
        apiKey: null,
        maxRetries: 0,
      });
    const ask = (client: Anthropic) =>
      client.messages.create({
        model: "claude-haiku-4-5",
        max_tokens: 64,
        messages: [{ role: "user", content: "hi there" }],
      });
    await ask(await anthropicFor("alice"));
    const refused = await ask(await anthropicFor("bob")).then(
      () => undefined,
      (error: unknown) => error as InstanceType<typeof Anthropic.APIError>,
    );
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect(refused?.error).toMatchObject({
      type: "error",
      error: {
        type: "rate_limit_error",
        code: "spend_budget_exceeded",
        budget: { id: "claude-monthly", per: "route", route: "anthropic", window: "month", maxUsd: CAP_USD },
      },
    });
  });
});

describe("the spend metric", () => {
  it("counts cost by route and agent, never by user, and bounds agent labels to the bundle's agents", async () => {
    const metrics = createGatewayMetrics({ defaultMetrics: false });
    metrics.useBundle(
      {
        metadata: { environment: "dev", stack: "s", gateway: "g" },
        llm: { routes: [{ id: "openai", providers: [] }] },
        agents: [{ id: "coder" }],
      } as never,
      "sha256:x",
    );
    metrics.observeAudit({
      kind: "llm",
      decision: "allow",
      route: "openai",
      principal: "alice",
      agent: "coder",
      costUsd: 0.25,
    });
    metrics.observeAudit({
      kind: "llm",
      decision: "allow",
      route: "openai",
      principal: "bob",
      agent: "coder",
      costUsd: 0.5,
    });
    metrics.observeAudit({
      kind: "llm",
      decision: "allow",
      route: "openai",
      principal: "bob",
      agent: "forged",
      costUsd: 1,
    });
    metrics.observeAudit({ kind: "llm", decision: "allow", route: "openai", principal: "carol", costUsd: 2 });
    const text = await metrics.render();
    expect(text).toContain('tollgate_spend_usd_total{route="openai",agent="coder"} 0.75');
    expect(text).toContain('tollgate_spend_usd_total{route="openai",agent="other"} 1');
    expect(text).toContain('tollgate_spend_usd_total{route="openai",agent="none"} 2');
    expect(text).not.toMatch(/alice|bob|carol/);
  });
});
