/** Bounds of the LLM stage: response size, token budgets billed from provider usage. */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { type LlmStage, startLlmStage } from "../support/llm-stage.js";

let upstream: LlmUpstream;
let stage: LlmStage;

beforeAll(async () => {
  upstream = await startLlmUpstream();
  stage = await startLlmStage(
    (b) => {
      const provider = { id: "vendor", kind: "openai" as const, baseUrl: `${upstream.url}/v1`, apiKey: { env: "K" } };
      b.llm = {
        routes: [
          { id: "small", pathPrefix: "/small", policy: "default", maxResponseBytes: 1024, providers: [provider] },
          { id: "metered", pathPrefix: "/metered", policy: "metered", providers: [provider] },
        ],
      };
      b.guardPolicies = [{ id: "default" }, { id: "metered", limits: { windowSeconds: 60, tokensPerWindow: 50 } }];
    },
    { secrets: { K: "gateway-key" } },
  );
});

afterAll(async () => {
  await stage?.close();
  await upstream?.close();
});

const client = (prefix: string) => new OpenAI({ baseURL: `${stage.url}${prefix}/v1`, apiKey: "unused", maxRetries: 0 });

describe("LLM stage bounds", () => {
  it("refuses an upstream answer over maxResponseBytes with 502 instead of buffering it", async () => {
    const error = await client("/small")
      .chat.completions.create({ model: "m", messages: [{ role: "user", content: "x".repeat(2000) }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as Error).message).toContain("over 1024 bytes");
  });

  it("bills tokens from the provider's usage and refuses the next request before it is sent once the budget is spent", async () => {
    upstream.reset();
    const first = await client("/metered").chat.completions.create({
      model: "m",
      messages: [
        {
          role: "user",
          content: "a question long enough to spend the whole small budget in one go, please. ".repeat(3),
        },
      ],
    });
    expect((first.usage?.total_tokens ?? 0) >= 50).toBe(true);
    const error = await client("/metered")
      .chat.completions.create({ model: "m", messages: [{ role: "user", content: "again" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as Error).message).toContain("token budget spent");
    expect(upstream.requests).toHaveLength(1);
    expect(stage.audit.find((e) => e.decision === "rate-limited")).toMatchObject({
      principal: "alice",
      rule: "limits: metered",
    });
  });

  it("bills streamed usage too", async () => {
    const streamStage = await startLlmStage(
      (b) => {
        b.llm = {
          routes: [
            {
              id: "metered",
              pathPrefix: "/metered",
              policy: "metered",
              providers: [{ id: "vendor", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "K" } }],
            },
          ],
        };
        b.guardPolicies = [{ id: "default" }, { id: "metered", limits: { windowSeconds: 60, tokensPerWindow: 50 } }];
      },
      { secrets: { K: "gateway-key" }, subject: "carol" },
    );
    try {
      const c = new OpenAI({ baseURL: `${streamStage.url}/metered/v1`, apiKey: "unused", maxRetries: 0 });
      const stream = await c.chat.completions.create({
        model: "m",
        stream: true,
        messages: [
          {
            role: "user",
            content: "a streamed question long enough to spend the whole small token budget. ".repeat(3),
          },
        ],
      });
      for await (const chunk of stream) void chunk;
      await expect(
        c.chat.completions.create({ model: "m", messages: [{ role: "user", content: "again" }] }),
      ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    } finally {
      await streamStage.close();
    }
  });
});
