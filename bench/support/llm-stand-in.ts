/**
 * The LLM upstream of bench/llm.ts and bench/soak.ts: OpenAI chat completions, JSON and SSE, answered with
 * as little work as a stand-in can do, because it runs on the load generator's core (core 0) next to the
 * load generator and its CPU time is taken from the same core that sends every target's requests.
 *
 * It answers what examples/local-platform/llm-upstream.ts answers (the last user message echoed, usage at
 * about 4 characters per token, a usage chunk when the stream asks for one), but without parsing the request:
 * `"stream":true`, `"include_usage":true`, the model and the last user message are found in the raw body by
 * string search (the last user message's JSON string literal is the only part parsed), `prompt_tokens` is the
 * body's length / 4 rather than the re-serialized messages', and the response is written from string
 * templates rather than built as objects and serialized. On the agent workload's 34 KB median body that is
 * one `toString` and a few `indexOf`s instead of a `JSON.parse` of the body and a `JSON.stringify` of its
 * messages. Every target (direct, pass-through, Tollgate) talks to the same stand-in, so the comparison
 * stays fair; what changes is how much of core 0 is left for the load generator.
 *
 * Not a general stand-in: it assumes the bodies the benchmarks send (`JSON.stringify` output, string
 * contents, `"model"` first), and falls back to a fixed reply when it finds no user message.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface BenchUpstreamOptions {
  /**
   * `whole`: a streamed reply in one write (it reaches the proxy in one read); `per-event`: one SSE event per
   * write, an event-loop turn apart, as a vendor streams tokens (without a vendor's delays).
   */
  readonly streamWrites: "whole" | "per-event";
}

export interface BenchUpstream {
  /** Base URL; the OpenAI base URL is `${url}/v1`. */
  readonly url: string;
  close(): Promise<void>;
}

const USER_MARKER = '"role":"user","content":"';
const FALLBACK_REPLY = "The stand-in found no user message to answer.";
/** About 4 characters per SSE content event, as the examples' stand-in splits replies. */
const CHARS_PER_EVENT = 4;

/** The last user message's text: its JSON string literal, found by search and parsed alone. */
export function lastUserMessage(body: string): string {
  const at = body.lastIndexOf(USER_MARKER);
  if (at < 0) return FALLBACK_REPLY;
  const open = at + USER_MARKER.length - 1;
  let close = body.indexOf('"', open + 1);
  // A quote preceded by an odd number of backslashes is part of the text.
  while (close > 0) {
    let backslashes = 0;
    while (body.charCodeAt(close - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) break;
    close = body.indexOf('"', close + 1);
  }
  if (close < 0) return FALLBACK_REPLY;
  return JSON.parse(body.slice(open, close + 1)) as string;
}

const modelOf = (body: string) => /^\{"model":"([^"\\]{1,100})"/.exec(body)?.[1] ?? "gpt-4o-mini";

let serial = 0;

function answer(res: ServerResponse, body: string, perEvent: boolean): void {
  const model = modelOf(body);
  const reply = lastUserMessage(body);
  const promptTokens = Math.max(1, Math.ceil(body.length / 4));
  const completionTokens = Math.max(1, Math.ceil(reply.length / 4));
  const usage = `{"prompt_tokens":${promptTokens},"completion_tokens":${completionTokens},"total_tokens":${promptTokens + completionTokens}}`;
  const id = `chatcmpl-bench${(serial++).toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  if (!body.includes('"stream":true')) {
    const text =
      `{"id":"${id}","object":"chat.completion","created":${created},"model":"${model}","choices":[{"index":0,` +
      `"message":{"role":"assistant","content":${JSON.stringify(reply)},"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":${usage}}`;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":"${model}","choices":[`;
  const events = [
    `${head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`,
  ];
  for (let i = 0; i < reply.length; i += CHARS_PER_EVENT)
    events.push(
      `${head}{"index":0,"delta":{"content":${JSON.stringify(reply.slice(i, i + CHARS_PER_EVENT))}},"logprobs":null,"finish_reason":null}]}\n\n`,
    );
  events.push(`${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n`);
  if (body.includes('"include_usage":true')) events.push(`${head}],"usage":${usage}}\n\n`);
  events.push("data: [DONE]\n\n");
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  if (!perEvent) return void res.end(events.join(""));
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    const event = events[i++];
    if (event === undefined) return void res.end();
    res.write(event);
    setImmediate(next);
  };
  next();
}

/** Starts the stand-in on 127.0.0.1, an ephemeral port. */
export async function startBenchUpstream(options: BenchUpstreamOptions): Promise<BenchUpstream> {
  const perEvent = options.streamWrites === "per-event";
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) return void res.writeHead(404).end();
      answer(res, Buffer.concat(chunks).toString("utf8"), perEvent);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
