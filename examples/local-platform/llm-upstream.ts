/**
 * A local stand-in for the LLM vendors: ONE HTTP server that speaks the OpenAI wire formats
 * (`POST /v1/chat/completions`, `POST /v1/responses`, `GET /v1/models`) and the Anthropic Messages wire
 * format (`POST /v1/messages`, `GET /v1/models` with an `anthropic-version` header), JSON and SSE.
 *
 * It answers by echoing the last user message (after the gateway's guards, so a test sees what really
 * left the gateway), reports usage (about 4 characters per token), and records every request it
 * received (headers and body) so tests can assert that the SSN never arrived and the gateway's key did.
 *
 * Several logical vendors share the one server through an optional first path segment:
 * `http://127.0.0.1:PORT/primary/v1/chat/completions` is vendor "primary", `/v1/...` is vendor "default".
 *
 * Failure controls (documented model names, usable from any client):
 * - model `fail-primary`: vendor "primary" answers 529 (overloaded); every other vendor serves it.
 * - model `fail-<status>` (e.g. `fail-500`, `fail-429`): every vendor answers that status.
 * - model `slow-<ms>` (e.g. `slow-2000`): response headers are delayed by that many milliseconds.
 * And from code: `failNext({ status, count, retryAfterSeconds, vendor })`, `scriptReplies([...])`,
 * `scriptReasoning(...)` (a reply that thinks first: a Responses reasoning item, an Anthropic thinking block).
 * `cutOff` lists the requests whose reply the gateway stopped reading before its end (it closed the connection).
 *
 * Prompt caching (`promptCache: true`), as the vendors report it: a request whose conversation before its
 * last message starts with a conversation this vendor already answered reads that part from the cache.
 * OpenAI reports it as `usage.prompt_tokens_details.cached_tokens` (part of `prompt_tokens`); Anthropic as
 * `cache_read_input_tokens`, and a request with a `cache_control` block writes the rest of that part to the
 * cache (`cache_creation_input_tokens`); Anthropic's `input_tokens` is then only the uncached remainder.
 * Streams report the same numbers (OpenAI's usage chunk, Anthropic's `message_start`). The Responses API
 * reports them as `usage.input_tokens_details.cached_tokens` (part of `input_tokens`), in the JSON Response
 * and in the `response.completed` event.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the upstream received. */
export interface RecordedRequest {
  readonly vendor: string;
  readonly method: string;
  /** Path without the vendor segment, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body, or undefined for bodiless requests. */
  readonly body: unknown;
  /** The raw body text. */
  readonly rawBody: string;
  /** What the stand-in answered, as far as it wrote it: the JSON body, or the SSE events sent so far. */
  readonly reply: string;
}

/** What the stand-in wrote to each recorded request's response. */
const recordings = new WeakMap<ServerResponse, { reply: string }>();
const noteReply = (res: ServerResponse, text: string) => {
  const recording = recordings.get(res);
  if (recording) recording.reply += text;
};

export interface FailureRule {
  /** HTTP status to answer with (e.g. 529, 429, 500). */
  readonly status: number;
  /** How many requests fail before the upstream recovers. */
  readonly count: number;
  /** Sent as `Retry-After` when set. */
  readonly retryAfterSeconds?: number;
  /** Only this vendor fails; every vendor when omitted. */
  readonly vendor?: string;
}

export interface LlmUpstreamOptions {
  /** Port to bind on 127.0.0.1; 0 (default) picks an ephemeral port. */
  readonly port?: number;
  readonly host?: string;
  /** Number of SSE content chunks a streamed reply is split into (default: about one per 4 characters). */
  readonly streamChunks?: number;
  /** Models listed by `GET /v1/models`. */
  readonly models?: readonly string[];
  /** Keep at most this many recorded requests (oldest dropped); default 1000. Benchmarks set 0. */
  readonly maxRecorded?: number;
  /**
   * How an unscripted streamed reply is written: `whole` (default) in one write, so it reaches the
   * gateway in one read; `per-event` one SSE event per write, an event-loop turn apart, as a vendor
   * streams tokens (without a vendor's delays), so the gateway reads them one or a few at a time.
   */
  readonly streamWrites?: "whole" | "per-event";
  /** Remember conversations and report cached input tokens for repeated prefixes (see the module comment). */
  readonly promptCache?: boolean;
}

export interface LlmUpstream {
  /** Base URL, e.g. `http://127.0.0.1:41234` (append `/v1` for OpenAI-style base URLs). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** The next requests (matching `vendor`, if given) fail with `status`. */
  failNext(rule: FailureRule): void;
  /**
   * The next replies use these content chunks instead of echoing (one entry per reply). With `paceMs`,
   * a streamed reply writes each SSE event separately, `paceMs` apart (as a vendor streams tokens), so
   * the chunks reach the gateway in separate reads.
   */
  scriptReplies(replies: readonly (readonly string[])[], options?: { readonly paceMs?: number }): void;
  /**
   * The next reply is a call of tool `name` whose JSON arguments arrive in these chunks (OpenAI
   * `tool_calls`, Anthropic `tool_use` / `input_json_delta`), paced like `scriptReplies`.
   */
  scriptToolCall(name: string, argumentChunks: readonly string[], options?: { readonly paceMs?: number }): void;
  /**
   * The next reply reasons first, its reasoning arriving in these chunks, then answers with `reply`:
   * on /v1/chat/completions as `reasoning_content` before the content (as vLLM and DeepSeek send it); on
   * /v1/responses a `reasoning` output item (index 0) before the message (index 1), as its summary
   * (`response.reasoning_summary_text.delta`, `summary[]`) or, with `as: "text"`, as its raw reasoning
   * text (`response.reasoning_text.delta`, `content[]`); on /v1/messages a `thinking` block (index 0) with
   * its signature before the text block. Paced like `scriptReplies`.
   */
  scriptReasoning(
    reasoningChunks: readonly string[],
    reply: readonly string[],
    options?: { readonly paceMs?: number; readonly as?: "summary" | "text" },
  ): void;
  /** Requests whose reply the gateway closed the connection on before the reply ended, in order. */
  readonly cutOff: RecordedRequest[];
  /** Forgets recorded requests, failure rules and scripted replies. */
  reset(): void;
  close(): Promise<void>;
}

/** A scripted reply: its chunks and their pacing, and what they are (text, a tool call's arguments, text after reasoning). */
interface Script {
  readonly chunks: readonly string[];
  readonly paceMs: number;
  readonly tool?: string;
  readonly reasoning?: { readonly chunks: readonly string[]; readonly as: "summary" | "text" };
}

interface ChatMessageLike {
  readonly role?: string;
  readonly content?: unknown;
}

const DEFAULT_MODELS = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5"];

/** Starts the stand-in on 127.0.0.1 (ephemeral port by default). */
export async function startLlmUpstream(options: LlmUpstreamOptions = {}): Promise<LlmUpstream> {
  const requests: RecordedRequest[] = [];
  const failures: { rule: FailureRule; left: number }[] = [];
  const scripted: Script[] = [];
  const cutOff: RecordedRequest[] = [];
  const maxRecorded = options.maxRecorded ?? 1000;
  const models = options.models ?? DEFAULT_MODELS;
  const cache = options.promptCache ? new PromptCache() : undefined;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      try {
        handle(req, res, rawBody);
      } catch (error) {
        sendJson(res, 500, { error: { type: "server_error", message: (error as Error).message } });
      }
    });
  });
  server.keepAliveTimeout = 60_000;

  function handle(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const url = new URL(req.url ?? "/", "http://upstream");
    let path = url.pathname;
    let vendor = "default";
    const segment = /^\/([a-z][a-z0-9-]*)(\/v1\/.*)$/.exec(path);
    if (segment && segment[1] !== "v1") {
      vendor = segment[1] ?? "default";
      path = segment[2] ?? path;
    }
    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        sendJson(res, 400, { error: { type: "invalid_request_error", message: "body is not JSON" } });
        return;
      }
    }
    if (maxRecorded > 0) {
      const recorded = {
        vendor,
        method: req.method ?? "GET",
        path,
        headers: { ...req.headers },
        body,
        rawBody,
        reply: "",
      };
      recordings.set(res, recorded);
      requests.push(recorded);
      if (requests.length > maxRecorded) requests.shift();
      res.once("close", () => {
        if (!res.writableFinished) cutOff.push(recorded);
      });
    }

    const failure = takeFailure(vendor);
    const model =
      typeof (body as { model?: unknown } | undefined)?.model === "string" ? (body as { model: string }).model : "";
    const isAnthropic =
      path === "/v1/messages" || (path === "/v1/models" && req.headers["anthropic-version"] !== undefined);
    const fixedFailure = failure ?? modelFailure(model, vendor);
    if (fixedFailure) {
      const headers: Record<string, string> = {};
      if (fixedFailure.retryAfterSeconds !== undefined) headers["retry-after"] = String(fixedFailure.retryAfterSeconds);
      const errorBody = isAnthropic
        ? {
            type: "error",
            error: {
              type: fixedFailure.status === 529 ? "overloaded_error" : "api_error",
              message: `stand-in failure ${fixedFailure.status}`,
            },
          }
        : {
            error: {
              type: "server_error",
              code: String(fixedFailure.status),
              message: `stand-in failure ${fixedFailure.status}`,
            },
          };
      sendJson(res, fixedFailure.status, errorBody, headers);
      return;
    }
    const slow = /^slow-(\d{1,6})$/.exec(model);
    const respond = () => route(req, res, path, body, model, vendor);
    if (slow) setTimeout(respond, Number(slow[1]));
    else respond();
  }

  function route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: unknown,
    model: string,
    vendor: string,
  ): void {
    if (req.method === "GET" && path === "/v1/models") {
      if (req.headers["anthropic-version"] !== undefined) {
        const data = models.map((id) => ({ type: "model", id, display_name: id, created_at: "2026-01-01T00:00:00Z" }));
        sendJson(res, 200, { data, has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null });
      } else {
        sendJson(res, 200, {
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 1_767_225_600, owned_by: "stand-in" })),
        });
      }
      return;
    }
    if (req.method === "POST" && path === "/v1/chat/completions") {
      openAiChat(res, body as OpenAiRequestLike, model, vendor);
      return;
    }
    if (req.method === "POST" && path === "/v1/responses") {
      openAiResponses(res, body as ResponsesRequestLike, model, vendor);
      return;
    }
    if (req.method === "POST" && path === "/v1/messages") {
      anthropicMessages(res, body as AnthropicRequestLike, model, vendor);
      return;
    }
    sendJson(res, 404, { error: { type: "not_found_error", message: `no route ${req.method} ${path}` } });
  }

  function takeFailure(vendor: string): FailureRule | undefined {
    const entry = failures.find((f) => f.left > 0 && (f.rule.vendor === undefined || f.rule.vendor === vendor));
    if (!entry) return undefined;
    entry.left -= 1;
    return entry.rule;
  }

  function replyChunks(lastUser: string): Script {
    const script = scripted.shift();
    if (script) return script;
    return {
      chunks: splitText(lastUser, options.streamChunks),
      paceMs: options.streamWrites === "per-event" ? PER_EVENT : 0,
    };
  }

  interface OpenAiRequestLike {
    readonly messages?: readonly ChatMessageLike[];
    readonly stream?: boolean;
    readonly stream_options?: { include_usage?: boolean };
    readonly tools?: readonly unknown[];
  }

  function openAiChat(res: ServerResponse, request: OpenAiRequestLike, model: string, vendor: string): void {
    const messages = request.messages ?? [];
    const lastUser = lastUserText(messages);
    const { chunks, paceMs, tool, reasoning } = replyChunks(lastUser);
    // Reasoning as OpenAI-compatible servers send it (vLLM, DeepSeek): `reasoning_content` before the content.
    const thought = reasoning ? { reasoning_content: reasoning.chunks.join("") } : {};
    const reply = chunks.join("");
    const promptTokens = estimateTokens(JSON.stringify(messages));
    const completionTokens = estimateTokens(reply);
    const cachedTokens = cache?.read(vendor, undefined, messages) ?? 0;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      ...(cache ? { prompt_tokens_details: { cached_tokens: cachedTokens, audio_tokens: 0 } } : {}),
    };
    const id = `chatcmpl-${Math.random().toString(36).slice(2, 12)}`;
    const created = Math.floor(Date.now() / 1000);
    if (!request.stream) {
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          tool
            ? {
                index: 0,
                message: {
                  role: "assistant",
                  content: null,
                  refusal: null,
                  tool_calls: [{ id: "call_stand_in", type: "function", function: { name: tool, arguments: reply } }],
                },
                logprobs: null,
                finish_reason: "tool_calls",
              }
            : {
                index: 0,
                message: { role: "assistant", content: reply, refusal: null, ...thought },
                logprobs: null,
                finish_reason: "stop",
              },
        ],
        usage,
      });
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const base = { id, object: "chat.completion.chunk", created, model };
    const first = tool
      ? {
          role: "assistant",
          content: null,
          tool_calls: [{ index: 0, id: "call_stand_in", type: "function", function: { name: tool, arguments: "" } }],
        }
      : { role: "assistant", content: "" };
    const events: unknown[] = [{ ...base, choices: [{ index: 0, delta: first, logprobs: null, finish_reason: null }] }];
    for (const piece of reasoning?.chunks ?? [])
      events.push({
        ...base,
        choices: [{ index: 0, delta: { reasoning_content: piece }, logprobs: null, finish_reason: null }],
      });
    for (const piece of chunks) {
      const delta = tool ? { tool_calls: [{ index: 0, function: { arguments: piece } }] } : { content: piece };
      events.push({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] });
    }
    events.push({
      ...base,
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: tool ? "tool_calls" : "stop" }],
    });
    if (request.stream_options?.include_usage) events.push({ ...base, choices: [], usage });
    writeEvents(res, [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), "data: [DONE]\n\n"], paceMs);
  }

  interface ResponsesRequestLike {
    readonly input?: string | readonly { type?: string; role?: string; content?: unknown }[];
    readonly instructions?: string;
    readonly stream?: boolean;
  }

  /** The Responses API as OpenAI serves it: a Response object, or its event stream with named events. */
  function openAiResponses(res: ServerResponse, request: ResponsesRequestLike, model: string, vendor: string): void {
    const input = request.input ?? [];
    const messages: ChatMessageLike[] =
      typeof input === "string"
        ? [{ role: "user", content: input }]
        : input.map((item) => ({
            role: item.role ?? item.type,
            content: Array.isArray(item.content)
              ? item.content.map((p: { text?: unknown }) => ({ type: "text", text: p?.text }))
              : item.content,
          }));
    const { chunks, paceMs, tool, reasoning } = replyChunks(lastUserText(messages));
    const reply = chunks.join("");
    const inputTokens = estimateTokens(JSON.stringify(input) + (request.instructions ?? ""));
    const outputTokens = estimateTokens(reply);
    const cachedTokens = cache?.read(vendor, request.instructions, messages) ?? 0;
    const usage = {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: cachedTokens },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    };
    const suffix = Math.random().toString(36).slice(2, 12);
    const itemId = tool ? `fc_${suffix}` : `msg_${suffix}`;
    const item = (status: string, text: string) =>
      tool
        ? { id: itemId, type: "function_call", status, call_id: "call_stand_in", name: tool, arguments: text }
        : {
            id: itemId,
            type: "message",
            status,
            role: "assistant",
            content: status === "in_progress" ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }],
          };
    const response = (status: string, output: unknown[], withUsage: boolean) => ({
      id: `resp_${suffix}`,
      object: "response",
      created_at: Math.floor(Date.now() / 1000),
      status,
      error: null,
      incomplete_details: null,
      instructions: request.instructions ?? null,
      max_output_tokens: null,
      model,
      output,
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: false,
      temperature: 1,
      text: { format: { type: "text" } },
      tool_choice: "auto",
      tools: [],
      top_p: 1,
      truncation: "disabled",
      usage: withUsage ? usage : null,
      metadata: {},
    });
    const thought = reasoning?.chunks.join("") ?? "";
    const reasoningId = `rs_${suffix}`;
    /** The reasoning item: its text as the summary, or as the reasoning content (`as: "text"`). */
    const reasoningItem = (text: string | undefined) =>
      reasoning?.as === "text"
        ? {
            id: reasoningId,
            type: "reasoning",
            summary: [],
            content: text === undefined ? [] : [{ type: "reasoning_text", text }],
          }
        : { id: reasoningId, type: "reasoning", summary: text === undefined ? [] : [{ type: "summary_text", text }] };
    const outputs = (status: string, text: string) =>
      reasoning ? [reasoningItem(thought), item(status, text)] : [item(status, text)];
    if (!request.stream) {
      sendJson(res, 200, response("completed", outputs("completed", reply), true));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    let sequence = 0;
    const events: string[] = [];
    const push = (type: string, data: object) =>
      events.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`);
    push("response.created", { response: response("in_progress", [], false) });
    push("response.in_progress", { response: response("in_progress", [], false) });
    if (reasoning) {
      const at = { item_id: reasoningId, output_index: 0 };
      push("response.output_item.added", { output_index: 0, item: reasoningItem(undefined) });
      if (reasoning.as === "text") {
        const part = (text: string) => ({ type: "reasoning_text", text });
        push("response.content_part.added", { ...at, content_index: 0, part: part("") });
        for (const piece of reasoning.chunks)
          push("response.reasoning_text.delta", { ...at, content_index: 0, delta: piece });
        push("response.reasoning_text.done", { ...at, content_index: 0, text: thought });
        push("response.content_part.done", { ...at, content_index: 0, part: part(thought) });
      } else {
        const part = (text: string) => ({ type: "summary_text", text });
        push("response.reasoning_summary_part.added", { ...at, summary_index: 0, part: part("") });
        for (const piece of reasoning.chunks)
          push("response.reasoning_summary_text.delta", { ...at, summary_index: 0, delta: piece });
        push("response.reasoning_summary_text.done", { ...at, summary_index: 0, text: thought });
        push("response.reasoning_summary_part.done", { ...at, summary_index: 0, part: part(thought) });
      }
      push("response.output_item.done", { output_index: 0, item: reasoningItem(thought) });
    }
    const outputIndex = reasoning ? 1 : 0;
    push("response.output_item.added", { output_index: outputIndex, item: item("in_progress", "") });
    const ids = { item_id: itemId, output_index: outputIndex };
    if (tool) {
      for (const piece of chunks) push("response.function_call_arguments.delta", { ...ids, delta: piece });
      push("response.function_call_arguments.done", { ...ids, arguments: reply });
    } else {
      const part = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] });
      push("response.content_part.added", { ...ids, content_index: 0, part: part("") });
      for (const piece of chunks)
        push("response.output_text.delta", { ...ids, content_index: 0, delta: piece, logprobs: [] });
      push("response.output_text.done", { ...ids, content_index: 0, text: reply, logprobs: [] });
      push("response.content_part.done", { ...ids, content_index: 0, part: part(reply) });
    }
    push("response.output_item.done", { output_index: outputIndex, item: item("completed", reply) });
    push("response.completed", { response: response("completed", outputs("completed", reply), true) });
    writeEvents(res, events, paceMs);
  }

  interface AnthropicRequestLike {
    readonly messages?: readonly ChatMessageLike[];
    readonly system?: unknown;
    readonly stream?: boolean;
  }

  function anthropicMessages(res: ServerResponse, request: AnthropicRequestLike, model: string, vendor: string): void {
    const messages = request.messages ?? [];
    const { chunks, paceMs, tool, reasoning } = replyChunks(lastUserText(messages));
    const reply = chunks.join("");
    const thought = reasoning?.chunks.join("") ?? "";
    const signature = "c3RhbmQtaW4gc2lnbmF0dXJl";
    const allInputTokens = estimateTokens(JSON.stringify(messages) + JSON.stringify(request.system ?? ""));
    const outputTokens = estimateTokens(reply);
    const cacheRead = cache?.read(vendor, request.system, messages) ?? 0;
    const cacheWrite =
      cache && JSON.stringify(request).includes('"cache_control"')
        ? Math.max(0, cache.prefixTokens(request.system, messages) - cacheRead)
        : 0;
    const inputTokens = Math.max(1, allInputTokens - cacheRead - cacheWrite);
    const cacheUsage = cache ? { cache_read_input_tokens: cacheRead, cache_creation_input_tokens: cacheWrite } : {};
    const id = `msg_${Math.random().toString(36).slice(2, 14)}`;
    if (!request.stream) {
      sendJson(res, 200, {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [
          ...(reasoning ? [{ type: "thinking", thinking: thought, signature }] : []),
          tool
            ? { type: "tool_use", id: "toolu_stand_in", name: tool, input: JSON.parse(reply || "{}") as unknown }
            : { type: "text", text: reply },
        ],
        stop_reason: tool ? "tool_use" : "end_turn",
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: outputTokens, ...cacheUsage },
      });
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const events: [string, unknown][] = [
      [
        "message_start",
        {
          type: "message_start",
          message: {
            id,
            type: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: inputTokens, output_tokens: 1, ...cacheUsage },
          },
        },
      ],
      ["ping", { type: "ping" }],
    ];
    const block = (index: number, start: object, deltas: readonly object[]) => {
      events.push(["content_block_start", { type: "content_block_start", index, content_block: start }]);
      for (const delta of deltas) events.push(["content_block_delta", { type: "content_block_delta", index, delta }]);
      events.push(["content_block_stop", { type: "content_block_stop", index }]);
    };
    if (reasoning)
      block(0, { type: "thinking", thinking: "", signature: "" }, [
        ...reasoning.chunks.map((thinking) => ({ type: "thinking_delta", thinking })),
        { type: "signature_delta", signature },
      ]);
    const index = reasoning ? 1 : 0;
    block(
      index,
      tool ? { type: "tool_use", id: "toolu_stand_in", name: tool, input: {} } : { type: "text", text: "" },
      chunks.map((piece) =>
        tool ? { type: "input_json_delta", partial_json: piece } : { type: "text_delta", text: piece },
      ),
    );
    events.push([
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: tool ? "tool_use" : "end_turn", stop_sequence: null },
        usage: { output_tokens: outputTokens },
      },
    ]);
    events.push(["message_stop", { type: "message_stop" }]);
    writeEvents(
      res,
      events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`),
      paceMs,
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;

  return {
    url: `http://${options.host ?? "127.0.0.1"}:${address.port}`,
    requests,
    failNext: (rule) => failures.push({ rule, left: rule.count }),
    scriptReplies: (replies, scriptOptions) =>
      scripted.push(...replies.map((chunks) => ({ chunks, paceMs: scriptOptions?.paceMs ?? 0 }))),
    scriptToolCall: (name, argumentChunks, scriptOptions) =>
      scripted.push({ chunks: argumentChunks, paceMs: scriptOptions?.paceMs ?? 0, tool: name }),
    scriptReasoning: (reasoningChunks, reply, scriptOptions) =>
      scripted.push({
        chunks: reply,
        paceMs: scriptOptions?.paceMs ?? 0,
        reasoning: { chunks: reasoningChunks, as: scriptOptions?.as ?? "summary" },
      }),
    cutOff,
    reset: () => {
      requests.length = 0;
      cutOff.length = 0;
      failures.length = 0;
      scripted.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Writes SSE events at once, or one by one `paceMs` apart. */
/** `paceMs` of a reply written one event per write, an event-loop turn apart (no timer). */
const PER_EVENT = -1;

function writeEvents(res: ServerResponse, events: readonly string[], paceMs: number): void {
  if (paceMs === 0) {
    const text = events.join("");
    noteReply(res, text);
    res.end(text);
    return;
  }
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    const event = events[i++];
    if (event === undefined) {
      res.end();
      return;
    }
    noteReply(res, event);
    res.write(event);
    if (paceMs === PER_EVENT) setImmediate(next);
    else setTimeout(next, paceMs);
  };
  next();
}

function modelFailure(model: string, vendor: string): FailureRule | undefined {
  if (model === "fail-primary") return vendor === "primary" ? { status: 529, count: 1 } : undefined;
  const status = /^fail-(\d{3})$/.exec(model);
  if (status) return { status: Number(status[1]), count: 1 };
  return undefined;
}

/** Text of the last user message (string content or text parts). */
function lastUserText(messages: readonly ChatMessageLike[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role !== "user") continue;
    const content = message.content;
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      return content
        .map((part: unknown) =>
          typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text"
            ? String((part as { text?: unknown }).text ?? "")
            : "",
        )
        .join("");
    }
  }
  return "";
}

function splitText(text: string, pieces: number | undefined): readonly string[] {
  if (text.length === 0) return [""];
  const count = Math.max(1, Math.min(text.length, pieces ?? Math.ceil(text.length / 4)));
  const size = Math.ceil(text.length / count);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/**
 * Conversations each vendor answered, by a hash chain over their messages: a request reads from the cache
 * the longest conversation-before-its-last-message prefix that some earlier request sent in full.
 */
class PromptCache {
  private readonly seen = new Set<string>();

  /** Cached tokens of this request's longest known prefix; remembers the whole request for the next turn. */
  read(vendor: string, system: unknown, messages: readonly ChatMessageLike[]): number {
    const chain = this.chain(vendor, system, messages);
    let cached = 0;
    for (let k = messages.length - 1; k >= 1; k--) {
      if (this.seen.has(chain[k] as string)) {
        cached = this.prefixTokens(system, messages.slice(0, k + 1));
        break;
      }
    }
    this.seen.add(chain[messages.length] as string);
    return cached;
  }

  /** Tokens of the conversation before the last message (what a cache write covers). */
  prefixTokens(system: unknown, messages: readonly ChatMessageLike[]): number {
    if (messages.length < 2) return 0;
    return estimateTokens(JSON.stringify(messages.slice(0, -1)) + (system === undefined ? "" : JSON.stringify(system)));
  }

  /** `chain[k]` identifies system + the first k messages. */
  private chain(vendor: string, system: unknown, messages: readonly ChatMessageLike[]): string[] {
    let hash = createHash("sha256")
      .update(`${vendor}\0${JSON.stringify(system ?? null)}`)
      .digest("hex");
    const out = [hash];
    for (const message of messages) {
      hash = createHash("sha256").update(hash).update(JSON.stringify(message)).digest("hex");
      out.push(hash);
    }
    return out;
  }
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  noteReply(res, text);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

// `npx tsx examples/local-platform/llm-upstream.ts [port]` runs it on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
  const upstream = await startLlmUpstream({ port: Number(process.argv[2] ?? 0) });
  console.log(
    `LLM stand-in listening on ${upstream.url} (OpenAI base ${upstream.url}/v1, Anthropic base ${upstream.url})`,
  );
}
