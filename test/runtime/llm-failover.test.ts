/**
 * Failover of the LLM routes, with the gateway's LLM stage served on a real HTTP server (no auth stage:
 * the principal is fixed) so the eviction clock can be driven by the test instead of by sleeping.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { type LlmStage, startLlmStage } from "../support/llm-stage.js";

let upstream: LlmUpstream;
let stage: LlmStage;
let client: OpenAI;
let clock = 1_000_000;
const audit = {
  get events() {
    return stage.audit;
  },
};

beforeAll(async () => {
  upstream = await startLlmUpstream();
  stage = await startLlmStage(
    (b) => {
      b.llm = {
        routes: [
          {
            id: "chat",
            pathPrefix: "/chat",
            policy: "default",
            failover: { on: ["429", "529", "5xx", "timeout", "connection-error"], evictSeconds: 30 },
            providers: [
              { id: "primary", kind: "openai", baseUrl: `${upstream.url}/primary/v1`, apiKey: { env: "K" } },
              { id: "secondary", kind: "anthropic", baseUrl: `${upstream.url}/secondary`, apiKey: { env: "K" } },
            ],
          },
          {
            id: "dead",
            pathPrefix: "/dead",
            policy: "default",
            providers: [
              { id: "gone", kind: "openai", baseUrl: "http://127.0.0.1:9/v1", apiKey: { env: "K" } },
              { id: "alive", kind: "openai", baseUrl: `${upstream.url}/alive/v1`, apiKey: { env: "K" } },
            ],
          },
          {
            id: "slow",
            pathPrefix: "/slow",
            policy: "default",
            providers: [
              {
                id: "impatient",
                kind: "openai",
                baseUrl: `${upstream.url}/impatient/v1`,
                apiKey: { env: "K" },
                timeoutMs: 100,
              },
              { id: "patient", kind: "openai", baseUrl: `${upstream.url}/patient/v1`, apiKey: { env: "K" } },
            ],
          },
        ],
      };
    },
    { secrets: { K: "gateway-key" }, now: () => clock },
  );
  client = new OpenAI({ baseURL: `${stage.url}/chat/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await stage?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.reset();
  clock += 3_600_000; // every test starts with every provider healthy
});

const ask = (c = client) =>
  c.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }).withResponse();
const askStream = (c = client) =>
  c.chat.completions
    .create({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hello" }] })
    .withResponse();

const vendors = () => upstream.requests.map((r) => r.vendor);

describe("LLM failover", () => {
  it("a primary answering 529 fails over: the client sees one success, served by the secondary", async () => {
    upstream.failNext({ status: 529, count: 1, vendor: "primary" });
    const { data, response } = await ask();
    expect(data.choices[0]?.message.content).toBe("hello");
    expect(response.headers.get("x-tollgate-provider")).toBe("secondary");
    expect(vendors()).toEqual(["primary", "secondary"]);
    expect(audit.events.some((e) => e.decision === "failover" && e.provider === "primary")).toBe(true);
  });

  it("keeps the failed provider evicted, then retries it once the eviction expires", async () => {
    upstream.failNext({ status: 529, count: 1, vendor: "primary" });
    await ask();
    clock += 10_000;
    expect((await ask()).response.headers.get("x-tollgate-provider")).toBe("secondary");
    clock += 21_000; // 31 s after the failure: evictSeconds (30) is over
    expect((await ask()).response.headers.get("x-tollgate-provider")).toBe("primary");
    expect(vendors()).toEqual(["primary", "secondary", "secondary", "primary"]);
  });

  it("honours a Retry-After longer than the eviction period", async () => {
    upstream.failNext({ status: 429, count: 1, vendor: "primary", retryAfterSeconds: 120 });
    await ask();
    clock += 60_000;
    expect((await ask()).response.headers.get("x-tollgate-provider")).toBe("secondary");
    clock += 61_000;
    expect((await ask()).response.headers.get("x-tollgate-provider")).toBe("primary");
  });

  it("fails over on 5xx for a stream too, before the first byte reached the client", async () => {
    upstream.failNext({ status: 503, count: 1, vendor: "primary" });
    const { data: stream, response } = await askStream();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("hello");
    expect(response.headers.get("x-tollgate-provider")).toBe("secondary");
  });

  it("fails over on a connection error", async () => {
    const dead = new OpenAI({
      baseURL: client.baseURL.replace("/chat/v1", "/dead/v1"),
      apiKey: "unused",
      maxRetries: 0,
    });
    const { response } = await ask(dead);
    expect(response.headers.get("x-tollgate-provider")).toBe("alive");
  });

  it("fails over when a provider sends no response headers within its timeout", async () => {
    const slow = new OpenAI({
      baseURL: client.baseURL.replace("/chat/v1", "/slow/v1"),
      apiKey: "unused",
      maxRetries: 0,
    });
    // model slow-400: the stand-in delays its headers by 400 ms; "impatient" allows 100 ms, "patient" 30 s.
    const { data, response } = await slow.chat.completions
      .create({ model: "slow-400", messages: [{ role: "user", content: "take your time" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("take your time");
    expect(response.headers.get("x-tollgate-provider")).toBe("patient");
    expect(
      audit.events.some(
        (e) => e.decision === "failover" && e.provider === "impatient" && e.reason?.startsWith("timeout"),
      ),
    ).toBe(true);
  });

  it("does not fail over on a client error (400): the provider's answer is relayed", async () => {
    upstream.failNext({ status: 400, count: 1, vendor: "primary" });
    await expect(ask()).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect(vendors()).toEqual(["primary"]);
  });

  it("answers 503 with Retry-After when every provider fails", async () => {
    upstream.failNext({ status: 500, count: 2 });
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(Number((error as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after"))).toBeGreaterThanOrEqual(
      1,
    );
  });
});
