/**
 * Providers that misbehave on purpose, behind the gateway's LLM stage, read by the official SDKs: a stream
 * cut by a connection reset must never look complete, and a provider that sends its headers and then
 * nothing is given up on after the route's `idleTimeoutMs` (failed over while nothing reached the client).
 */
import Anthropic from "@anthropic-ai/sdk";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlmStage, startLlmStage } from "../support/llm-stage.js";

const openAiChunk = (content: string) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] })}\n\n`;
const anthropicEvent = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const anthropicStart = [
  anthropicEvent("message_start", {
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 0 },
    },
  }),
  anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "The answer is " } }),
].join("");
const wholeAnswer = {
  id: "c2",
  object: "chat.completion",
  created: 1,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "served by the good one" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
};

/** The misbehaving provider: the first path segment says how. */
function provider(req: IncomingMessage, res: ServerResponse): void {
  const [, how] = (req.url ?? "").split("/");
  req.resume();
  req.on("end", () => {
    if (how === "reset-openai") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(openAiChunk("The answer is "));
      setImmediate(() => req.socket.destroy());
    } else if (how === "reset-anthropic") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(anthropicStart);
      setImmediate(() => req.socket.destroy());
    } else if (how === "silent") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
    } else {
      const body = JSON.stringify(wholeAnswer);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    }
  });
}

let upstream: ReturnType<typeof createServer>;
let upstreamUrl = "";
let stage: LlmStage;

beforeAll(async () => {
  upstream = createServer(provider);
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const key = { env: "K" };
  stage = await startLlmStage(
    (b) => {
      b.llm = {
        routes: [
          {
            id: "reset",
            pathPrefix: "/reset",
            policy: "default",
            providers: [{ id: "cut", kind: "openai", baseUrl: `${upstreamUrl}/reset-openai/v1`, apiKey: key }],
          },
          {
            id: "reset-anthropic",
            pathPrefix: "/reset-anthropic",
            policy: "default",
            providers: [{ id: "cut", kind: "anthropic", baseUrl: `${upstreamUrl}/reset-anthropic`, apiKey: key }],
          },
          {
            id: "silent-then-good",
            pathPrefix: "/failover",
            policy: "default",
            idleTimeoutMs: 1000,
            providers: [
              { id: "silent", kind: "openai", baseUrl: `${upstreamUrl}/silent/v1`, apiKey: key },
              { id: "good", kind: "openai", baseUrl: `${upstreamUrl}/good/v1`, apiKey: key },
            ],
          },
          {
            id: "only-silent",
            pathPrefix: "/silent",
            policy: "default",
            idleTimeoutMs: 1000,
            providers: [{ id: "silent", kind: "openai", baseUrl: `${upstreamUrl}/silent/v1`, apiKey: key }],
          },
        ],
      };
    },
    { secrets: { K: "provider-key" } },
  );
});

afterAll(async () => {
  await stage?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => upstream?.close(() => resolve()));
});

const openai = (prefix: string) =>
  new OpenAI({ baseURL: `${stage.url}${prefix}/v1`, apiKey: "unused", maxRetries: 0, timeout: 10_000 });
const messages = [{ role: "user" as const, content: "hello" }];

describe("a provider that resets the connection mid-stream", () => {
  it("makes the OpenAI SDK throw instead of returning the partial answer as complete", async () => {
    const stream = await openai("/reset").chat.completions.create({ model: "m", stream: true, messages });
    let text = "";
    const read = (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    })();
    await expect(read).rejects.toThrow(/stream broke off/);
    expect(text).toBe("The answer is ");
    expect(stage.audit.some((e) => e.reason === "stream ended early")).toBe(true);
  });

  it("makes the Anthropic SDK throw instead of returning the partial message as complete", async () => {
    const client = new Anthropic({
      baseURL: `${stage.url}/reset-anthropic`,
      apiKey: "unused",
      maxRetries: 0,
      timeout: 10_000,
    });
    const stream = client.messages.stream({ model: "claude", max_tokens: 10, messages });
    // The gateway's error event, not only the SDK noticing a missing message_stop.
    await expect(stream.finalMessage()).rejects.toThrow(/stream broke off/);
  });
});

describe("a provider that sends its headers and then nothing", () => {
  it("is given up on after the route's idleTimeoutMs and a stream fails over to the next provider", async () => {
    const started = Date.now();
    const { data: stream, response } = await openai("/failover")
      .chat.completions.create({ model: "m", stream: true, messages })
      .withResponse();
    // The good provider answers JSON to a stream request: relayed whole, still from the failover target.
    expect(response.headers.get("x-tollgate-provider")).toBe("good");
    void stream;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(stage.audit.some((e) => e.decision === "failover" && e.provider === "silent")).toBe(true);
  });

  it("fails over for a JSON answer too", async () => {
    const answer = await openai("/failover").chat.completions.create({ model: "m", messages });
    expect(answer.choices[0]?.message.content).toBe("served by the good one");
  });

  it("answers an error within the idle limit when no provider speaks", async () => {
    const started = Date.now();
    await expect(openai("/silent").chat.completions.create({ model: "m", stream: true, messages })).rejects.toThrow(
      /50[23]/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
