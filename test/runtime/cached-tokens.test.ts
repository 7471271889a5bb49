/**
 * Cache-aware token accounting through the real gateway: the official openai and @anthropic-ai/sdk clients,
 * the LLM stand-in with its prompt cache on (a repeated conversation prefix is reported as cached input,
 * in JSON and in streams), and what the gateway made of it: the client's usage, the audit line, the
 * metrics, and the token budget.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import type { AuditEvent } from "../../runtime/observability/audit.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

let upstream: LlmUpstream;
let platform: TestPlatform;
let token: string;

beforeAll(async () => {
  upstream = await startLlmUpstream({ promptCache: true });
  platform = await startTestPlatform({
    env: { GW_OPENAI_KEY: "gw-openai-key-for-tests", GW_ANTHROPIC_KEY: "gw-anthropic-key-for-tests" },
    bundle: (bundle) => ({
      ...bundle,
      llm: {
        routes: [
          {
            id: "openai",
            pathPrefix: "/openai",
            policy: "open",
            providers: [
              { id: "openai", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "GW_OPENAI_KEY" } },
            ],
          },
          {
            id: "anthropic",
            pathPrefix: "/anthropic",
            policy: "open",
            providers: [
              { id: "anthropic", kind: "anthropic", baseUrl: upstream.url, apiKey: { env: "GW_ANTHROPIC_KEY" } },
            ],
          },
          {
            id: "budget",
            pathPrefix: "/budget",
            policy: "budget",
            providers: [
              { id: "openai", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "GW_OPENAI_KEY" } },
            ],
          },
        ],
      },
      guardPolicies: [
        { id: "default", limits: { windowSeconds: 60, requestsPerWindow: 1000 } },
        { id: "open", limits: { windowSeconds: 60, requestsPerWindow: 1000 } },
        { id: "budget", limits: { windowSeconds: 600, tokensPerWindow: 100_000 } },
      ],
    }),
  });
  token = await platform.token("reader");
}, 60_000);

afterAll(async () => {
  await platform?.close();
  await upstream?.close();
});

const openai = (prefix = "/openai") =>
  new OpenAI({ baseURL: `${platform.url}${prefix}/v1`, apiKey: token, maxRetries: 0 });
const anthropic = () =>
  new Anthropic({ baseURL: `${platform.url}/anthropic`, authToken: token, apiKey: null, maxRetries: 0 });

/** A conversation long enough that its prefix is a real share of the prompt, unique per test. */
function conversation(topic: string): OpenAI.ChatCompletionMessageParam[] {
  return [
    { role: "system", content: `You answer questions about ${topic}. ${"Be thorough and cite sources. ".repeat(20)}` },
    { role: "user", content: `Tell me about ${topic}.` },
  ];
}

/** The audit line of the LLM request the upstream answered with this id (the gateway records after replying). */
async function auditLineOf(requestId: string | null): Promise<AuditEvent> {
  return vi.waitFor(() => {
    const line = platform.audit.find((e) => e.kind === "llm" && e.requestId === requestId);
    if (!line) throw new Error(`no audit line for request ${requestId}`);
    return line;
  });
}

/** The value of one series of the gateway's metrics. */
async function metric(series: string): Promise<number> {
  const text = await platform.gateway.telemetry.metrics.render();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const CACHED_READ_OPENAI = 'tollgate_cached_input_tokens_total{route="openai",provider="openai",cache="read"}';

describe("OpenAI cached_tokens", () => {
  it("a repeated conversation prefix reaches the client, the audit line and the cached-input metric as cached input", async () => {
    const messages = conversation("lighthouses");
    const first = await openai().chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(first.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const before = await metric(CACHED_READ_OPENAI);

    const { data: second, response } = await openai()
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [...messages, first.choices[0]!.message, { role: "user", content: "And their keepers?" }],
      })
      .withResponse();
    const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThan(0);
    expect(cached).toBeLessThan(second.usage!.prompt_tokens);

    const line = await auditLineOf(response.headers.get("x-request-id"));
    expect(line).toMatchObject({ tokensIn: second.usage!.prompt_tokens, cachedInputTokens: cached });
    expect(line.cacheCreationInputTokens).toBeUndefined();
    expect((await metric(CACHED_READ_OPENAI)) - before).toBe(cached);
  });

  it("a streamed answer's usage chunk carries cached_tokens, and the audit line records them", async () => {
    const messages = conversation("tides");
    await openai().chat.completions.create({ model: "gpt-4o-mini", messages });
    const { data: stream, response } = await openai()
      .chat.completions.create({
        model: "gpt-4o-mini",
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          ...messages,
          { role: "assistant", content: "Tides follow the moon." },
          { role: "user", content: "Why?" },
        ],
      })
      .withResponse();
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThan(0);
    const line = await auditLineOf(response.headers.get("x-request-id"));
    expect(line).toMatchObject({ tokensIn: usage!.prompt_tokens, tokensOut: usage!.completion_tokens });
    expect(line.cachedInputTokens).toBe(cached);
  });

  it("a request without a cache hit records zero cached input", async () => {
    const { response } = await openai()
      .chat.completions.create({ model: "gpt-4o-mini", messages: conversation("glaciers") })
      .withResponse();
    const line = await auditLineOf(response.headers.get("x-request-id"));
    expect(line.cachedInputTokens).toBe(0);
  });
});

describe("Anthropic cache reads and writes", () => {
  const system = (topic: string): Anthropic.TextBlockParam[] => [
    {
      type: "text",
      text: `You are an expert on ${topic}. ${"Answer with care. ".repeat(30)}`,
      cache_control: { type: "ephemeral" },
    },
  ];

  it("a cache_control prefix is written once, then read; the audit line and metrics keep reads and writes apart from input", async () => {
    const turn1: Anthropic.MessageParam[] = [
      { role: "user", content: "What are comets made of?" },
      { role: "assistant", content: "Ice and dust." },
      { role: "user", content: "How big are they?" },
    ];
    const writeSeries = 'tollgate_cached_input_tokens_total{route="anthropic",provider="anthropic",cache="write"}';
    const readSeries = 'tollgate_cached_input_tokens_total{route="anthropic",provider="anthropic",cache="read"}';
    const [writesBefore, readsBefore] = [await metric(writeSeries), await metric(readSeries)];

    const { data: first, response: firstResponse } = await anthropic()
      .messages.create({ model: "claude-haiku-4-5", max_tokens: 64, system: system("comets"), messages: turn1 })
      .withResponse();
    const written = first.usage.cache_creation_input_tokens ?? 0;
    expect(written).toBeGreaterThan(0);
    expect(first.usage.cache_read_input_tokens).toBe(0);
    const firstLine = await auditLineOf(firstResponse.headers.get("x-request-id"));
    expect(firstLine).toMatchObject({
      tokensIn: first.usage.input_tokens + written,
      cachedInputTokens: 0,
      cacheCreationInputTokens: written,
    });

    const { data: second, response: secondResponse } = await anthropic()
      .messages.create({
        model: "claude-haiku-4-5",
        max_tokens: 64,
        system: system("comets"),
        messages: [...turn1, { role: "assistant", content: "Kilometres." }, { role: "user", content: "And tails?" }],
      })
      .withResponse();
    const read = second.usage.cache_read_input_tokens ?? 0;
    expect(read).toBeGreaterThan(0);
    const secondLine = await auditLineOf(secondResponse.headers.get("x-request-id"));
    expect(secondLine.tokensIn).toBe(
      second.usage.input_tokens + read + (second.usage.cache_creation_input_tokens ?? 0),
    );
    expect(secondLine.cachedInputTokens).toBe(read);

    expect((await metric(writeSeries)) - writesBefore).toBe(written + (second.usage.cache_creation_input_tokens ?? 0));
    expect((await metric(readSeries)) - readsBefore).toBe(read);
  });

  it("a streamed Messages answer's cache reads (message_start) reach the audit line", async () => {
    const messages: Anthropic.MessageParam[] = [
      { role: "user", content: "Name a volcano." },
      { role: "assistant", content: "Etna." },
      { role: "user", content: "Where is it?" },
    ];
    await anthropic().messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      system: system("volcanoes"),
      messages,
    });
    const stream = anthropic().messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      system: system("volcanoes"),
      messages: [...messages, { role: "assistant", content: "Sicily." }, { role: "user", content: "Is it active?" }],
    });
    const final = await stream.finalMessage();
    const read = final.usage.cache_read_input_tokens ?? 0;
    expect(read).toBeGreaterThan(0);
    const { response } = await stream.withResponse();
    const line = await auditLineOf(response.headers.get("x-request-id"));
    expect(line.cachedInputTokens).toBe(read);
    expect(line.tokensIn).toBe(final.usage.input_tokens + read + (final.usage.cache_creation_input_tokens ?? 0));
  });

  it("a chat.completions client of an Anthropic provider sees the cache reads as prompt_tokens_details.cached_tokens, JSON and streamed", async () => {
    const messages = conversation("auroras");
    await openai("/anthropic").chat.completions.create({ model: "claude-haiku-4-5", messages });
    const next = [
      ...messages,
      { role: "assistant" as const, content: "Charged particles." },
      { role: "user" as const, content: "Where?" },
    ];

    const json = await openai("/anthropic").chat.completions.create({ model: "claude-haiku-4-5", messages: next });
    const cached = json.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThan(0);
    expect(json.usage!.total_tokens).toBe(json.usage!.prompt_tokens + json.usage!.completion_tokens);

    const stream = await openai("/anthropic").chat.completions.create({
      model: "claude-haiku-4-5",
      messages: next,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
  });
});

describe("token budgets and cached input", () => {
  it("cached input counts against the token budget in full, like any other input token", async () => {
    const messages = conversation("canals");
    const first = await openai("/budget").chat.completions.create({ model: "gpt-4o-mini", messages });
    const { data: second, response } = await openai("/budget")
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [...messages, first.choices[0]!.message, { role: "user", content: "Who built them?" }],
      })
      .withResponse();
    expect(second.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
    await auditLineOf(response.headers.get("x-request-id")); // billed once recorded

    const { response: third } = await openai("/budget").models.list().withResponse();
    const billed = first.usage!.total_tokens + second.usage!.total_tokens;
    expect(third.headers.get("ratelimit")).toMatch(new RegExp(`^limit=100000, remaining=${100_000 - billed}, `));
  });
});
