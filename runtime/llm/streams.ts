/**
 * Streaming relays from a provider's SSE body to the client, one per wire-format pair:
 * OpenAI → OpenAI, Anthropic → OpenAI (translated), Anthropic → Anthropic (native pass-through).
 *
 * Text deltas go through the streaming credential scanner, which holds back only the unfinished tail
 * that could still be part of a secret; everything else is written as soon as it arrives (one write per
 * upstream chunk, honouring back-pressure). Events without scannable text are relayed byte for byte.
 * Usage events are read for token billing; the OpenAI usage chunk is only relayed when the client asked.
 * The relays end the response (the last pending bytes go out with the end of the chunked body).
 */
import type { ServerResponse } from "node:http";
import type { StreamScanResult, StreamingCredentialScanner } from "../../policies/guards";
import { AnthropicStreamTranslator, anthropicUsage } from "./anthropic-translate";
import { SseParser, sseEvent } from "./sse";

type Json = Record<string, any>;

export interface StreamOutcome {
  blocked: { guard: string; message: string } | undefined;
  redactions: Record<string, number> | undefined;
  usage: { input: number; output: number } | undefined;
  /** The upstream stream broke before it completed. */
  broken: boolean;
}

export interface RelayOptions {
  readonly res: ServerResponse;
  readonly body: AsyncIterable<Uint8Array>;
  /** A new scanner per text stream (per choice or content block); undefined when the policy has no credential-leak guard. */
  readonly newScanner: (() => StreamingCredentialScanner) | undefined;
  readonly clientWantsUsage: boolean;
}

const BLOCK_ERROR = (message: string) => ({ error: { type: "permission_error", code: "guard_blocked", message, param: null } });

/** Buffers what one upstream chunk produced and writes it at once, waiting for drain when needed. */
class Output {
  private pending = "";
  constructor(private readonly res: ServerResponse) {}
  add(text: string): void {
    this.pending += text;
  }
  /** Ends the response with whatever is still pending: one write instead of two. */
  end(): void {
    const text = this.pending;
    this.pending = "";
    if (!this.res.writableEnded) this.res.end(text);
  }
  async flush(): Promise<void> {
    if (!this.pending) return;
    const text = this.pending;
    this.pending = "";
    if (!this.res.write(text)) await new Promise<void>((resolve) => this.res.once("drain", resolve));
  }
}

function addRedactions(outcome: StreamOutcome, result: StreamScanResult): void {
  if (result.action !== "release" || !result.redactions) return;
  outcome.redactions ??= {};
  for (const [kind, n] of Object.entries(result.redactions)) outcome.redactions[kind] = (outcome.redactions[kind] ?? 0) + n;
}

/**
 * Event handlers are generators that yield only when a scan really is asynchronous (a secretlint
 * pass); everything else runs synchronously, without a promise per SSE event.
 */
type Step<T> = Generator<Promise<unknown>, T, unknown>;

/** Runs a handler to completion: synchronously when it never yields, else as a promise. */
function drive<T>(gen: Step<T>, input?: unknown): T | Promise<T> {
  let step = gen.next(input);
  while (!step.done) {
    return step.value.then((value) => drive(gen, value));
  }
  return step.value;
}

/** Inside a handler: `const r = yield* settle(x)` gives x's value, yielding only for a promise. */
function* settle<T>(value: T | Promise<T>): Step<T> {
  return (value instanceof Promise ? yield value : value) as T;
}

function newOutcome(): StreamOutcome {
  return { blocked: undefined, redactions: undefined, usage: undefined, broken: false };
}

/** OpenAI chat.completion.chunk stream → the client, scanning `delta.content` per choice. */
export async function relayOpenAiStream(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner, clientWantsUsage } = options;
  const outcome = newOutcome();
  const out = new Output(res);
  const parser = new SseParser();
  const scanners = new Map<number, StreamingCredentialScanner>();
  let template: Json | undefined;
  let done = false;
  /**
   * Content-only deltas of one choice that arrived in the same upstream read are scanned together and
   * sent as one event: fewer scans and writes, and no delay (the read is flushed at its end).
   */
  let pending: { index: number; text: string; template: Json } | undefined;

  const flushPending = function* (): Step<boolean> {
    if (!pending || !newScanner) return true;
    const { index, text, template: base } = pending;
    pending = undefined;
    let scanner = scanners.get(index);
    if (!scanner) {
      scanner = newScanner();
      scanners.set(index, scanner);
    }
    const result = yield* settle(scanner.push(text));
    if (result.action === "block") return block(result.message);
    addRedactions(outcome, result);
    if (result.text) out.add(sseEvent(JSON.stringify({ ...base, choices: [{ index, delta: { content: result.text }, logprobs: null, finish_reason: null }] })));
    return true;
  };

  /** Tool-call arguments are scanned too, one scanner per (choice, tool call). */
  const toolScanners = new Map<string, { choice: number; tool: number; scanner: StreamingCredentialScanner }>();
  const flushToolScanners = function* (choice?: number): Step<boolean> {
    for (const [key, entry] of toolScanners) {
      if (choice !== undefined && entry.choice !== choice) continue;
      toolScanners.delete(key);
      const result = yield* settle(entry.scanner.finish());
      if (result.action === "block") return block(result.message);
      addRedactions(outcome, result);
      if (result.text && template) {
        out.add(sseEvent(JSON.stringify({ ...template, choices: [{ index: entry.choice, delta: { tool_calls: [{ index: entry.tool, function: { arguments: result.text } }] }, logprobs: null, finish_reason: null }] })));
      }
    }
    return true;
  };

  const flushScanners = function* (): Step<boolean> {
    if (!(yield* flushPending())) return false;
    if (!(yield* flushToolScanners())) return false;
    for (const [index, scanner] of scanners) {
      const result = yield* settle(scanner.finish());
      if (result.action === "block") return block(result.message);
      addRedactions(outcome, result);
      if (result.text && template) out.add(sseEvent(JSON.stringify({ ...template, choices: [{ index, delta: { content: result.text }, logprobs: null, finish_reason: null }] })));
      scanners.delete(index);
    }
    return true;
  };
  const block = (message: string): false => {
    outcome.blocked = { guard: "credential-leak", message };
    out.add(sseEvent(JSON.stringify(BLOCK_ERROR(message))));
    return false;
  };

  const handle = function* (data: string): Step<boolean> {
    if (data === "[DONE]") {
      if (!(yield* flushScanners())) return false;
      out.add("data: [DONE]\n\n");
      done = true;
      return true;
    }
    let chunk: Json;
    try {
      chunk = JSON.parse(data) as Json;
    } catch {
      out.add(sseEvent(data));
      return true;
    }
    if (chunk.usage) outcome.usage = { input: chunk.usage.prompt_tokens ?? 0, output: chunk.usage.completion_tokens ?? 0 };
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as Json[]) : [];
    if (choices.length === 0) {
      if (chunk.usage && !clientWantsUsage) return true;
      if (!(yield* flushScanners())) return false;
      out.add(sseEvent(data));
      return true;
    }
    if (!newScanner) {
      out.add(sseEvent(data));
      return true;
    }
    template ??= { id: chunk.id, object: chunk.object, created: chunk.created, model: chunk.model };
    const only = choices.length === 1 ? choices[0] : undefined;
    const onlyDelta = only?.delta as Json | undefined;
    if (only && !only.finish_reason && only.logprobs == null && onlyDelta && typeof onlyDelta.content === "string" && Object.keys(onlyDelta).length === 1) {
      const index = typeof only.index === "number" ? only.index : 0;
      if (pending && pending.index !== index && !(yield* flushPending())) return false;
      if (pending) pending.text += onlyDelta.content;
      else {
        const { choices: _choices, usage: _usage, ...base } = chunk;
        pending = { index, text: onlyDelta.content, template: base };
      }
      return true;
    }
    if (!(yield* flushPending())) return false;
    let modified = false;
    let emptied = true;
    for (const choice of choices) {
      const index = typeof choice.index === "number" ? choice.index : 0;
      const delta = (choice.delta ?? {}) as Json;
      for (const call of (Array.isArray(delta.tool_calls) ? delta.tool_calls : []) as Json[]) {
        const args: unknown = call?.function?.arguments;
        if (typeof args !== "string" || args.length === 0) continue;
        const tool = typeof call.index === "number" ? call.index : 0;
        const key = `${index}/${tool}`;
        let entry = toolScanners.get(key);
        if (!entry) {
          entry = { choice: index, tool, scanner: newScanner() };
          toolScanners.set(key, entry);
        }
        const result = yield* settle(entry.scanner.push(args));
        if (result.action === "block") return block(result.message);
        addRedactions(outcome, result);
        if (result.text !== args) {
          call.function.arguments = result.text;
          modified = true;
        }
      }
      if (typeof delta.content === "string" && delta.content.length > 0) {
        let scanner = scanners.get(index);
        if (!scanner) {
          scanner = newScanner();
          scanners.set(index, scanner);
        }
        const result = yield* settle(scanner.push(delta.content));
        if (result.action === "block") return block(result.message);
        addRedactions(outcome, result);
        if (result.text !== delta.content) {
          delta.content = result.text;
          modified = true;
        }
      }
      if (choice.finish_reason) {
        if (!(yield* flushToolScanners(index))) return false;
        const scanner = scanners.get(index);
        if (scanner) {
          const result = yield* settle(scanner.finish());
          if (result.action === "block") return block(result.message);
          addRedactions(outcome, result);
          if (result.text) {
            delta.content = (typeof delta.content === "string" ? delta.content : "") + result.text;
            choice.delta = delta;
            modified = true;
          }
          scanners.delete(index);
        }
      }
      const keys = Object.keys(delta);
      if (choice.finish_reason || keys.some((k) => k !== "content") || (typeof delta.content === "string" && delta.content.length > 0) || !modified) emptied = false;
    }
    if (modified && emptied) return true;
    out.add(sseEvent(modified ? JSON.stringify(chunk) : data));
    return true;
  };

  const ok = await pump(body, parser, out, outcome, (event) => drive(handle(event.data)), () => drive(flushPending()));
  if (ok && !done && !outcome.broken) await drive(flushScanners());
  out.end();
  return outcome;
}

/** Anthropic Messages stream → chat.completion.chunk stream. */
export async function relayAnthropicAsOpenAi(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner, clientWantsUsage } = options;
  const outcome = newOutcome();
  const out = new Output(res);
  const parser = new SseParser();
  const translator = new AnthropicStreamTranslator();
  let scanner: StreamingCredentialScanner | undefined;
  const toolScanners = new Map<number, StreamingCredentialScanner>();
  let done = false;

  const emitText = (text: string) => {
    if (text) out.add(sseEvent(JSON.stringify(translator.chunk({ content: text }))));
  };
  const blockWith = (message: string): false => {
    outcome.blocked = { guard: "credential-leak", message };
    out.add(sseEvent(JSON.stringify(BLOCK_ERROR(message))));
    return false;
  };
  const flushTool = function* (index: number): Step<boolean> {
    const toolScanner = toolScanners.get(index);
    if (!toolScanner) return true;
    toolScanners.delete(index);
    const result = yield* settle(toolScanner.finish());
    if (result.action === "block") return blockWith(result.message);
    addRedactions(outcome, result);
    if (result.text) out.add(sseEvent(JSON.stringify(translator.toolArgsChunk(index, result.text))));
    return true;
  };
  const flush = function* (): Step<boolean> {
    for (const index of [...toolScanners.keys()]) if (!(yield* flushTool(index))) return false;
    if (!scanner) return true;
    const result = yield* settle(scanner.finish());
    scanner = undefined;
    if (result.action === "block") return blockWith(result.message);
    addRedactions(outcome, result);
    emitText(result.text);
    return true;
  };

  const ok = await pump(body, parser, out, outcome, (event) => drive(function* (): Step<boolean> {
    let data: Json;
    try {
      data = JSON.parse(event.data) as Json;
    } catch {
      return true;
    }
    const step = translator.translate(data);
    if (step.error) {
      out.add(sseEvent(JSON.stringify(step.error)));
      outcome.broken = true;
      return false;
    }
    if (step.text !== undefined) {
      if (!newScanner) {
        emitText(step.text);
        return true;
      }
      scanner ??= newScanner();
      const result = yield* settle(scanner.push(step.text));
      if (result.action === "block") return blockWith(result.message);
      addRedactions(outcome, result);
      emitText(result.text);
      return true;
    }
    if (step.toolArgs) {
      const { index, text } = step.toolArgs;
      if (!newScanner) {
        out.add(sseEvent(JSON.stringify(translator.toolArgsChunk(index, text))));
        return true;
      }
      let toolScanner = toolScanners.get(index);
      if (!toolScanner) {
        toolScanner = newScanner();
        toolScanners.set(index, toolScanner);
      }
      const result = yield* settle(toolScanner.push(text));
      if (result.action === "block") return blockWith(result.message);
      addRedactions(outcome, result);
      if (result.text) out.add(sseEvent(JSON.stringify(translator.toolArgsChunk(index, result.text))));
      return true;
    }
    if (step.toolEnd !== undefined) return yield* flushTool(step.toolEnd);
    if (step.chunks || step.done) {
      if (!(yield* flush())) return false;
    }
    for (const chunk of step.chunks ?? []) out.add(sseEvent(JSON.stringify(chunk)));
    if (step.done) {
      outcome.usage = { ...translator.usage };
      if (clientWantsUsage) out.add(sseEvent(JSON.stringify(translator.usageChunk())));
      out.add("data: [DONE]\n\n");
      done = true;
    }
    return true;
  }()));
  if (ok && !done && !outcome.broken) await drive(flush());
  outcome.usage ??= { ...translator.usage };
  out.end();
  return outcome;
}

/** Anthropic Messages stream → the Anthropic client as is, scanning text deltas per content block. */
export async function relayAnthropicNative(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner } = options;
  const outcome = newOutcome();
  const out = new Output(res);
  const parser = new SseParser();
  /** One scanner per content block: text deltas and tool-input JSON deltas alike. */
  const scanners = new Map<number, { field: "text" | "partial_json"; scanner: StreamingCredentialScanner }>();
  const usage = { input: 0, output: 0 };

  const blockWith = (message: string): false => {
    outcome.blocked = { guard: "credential-leak", message };
    out.add(sseEvent(JSON.stringify({ type: "error", error: BLOCK_ERROR(message).error }), "error"));
    return false;
  };
  const blockDelta = (index: number, field: "text" | "partial_json", text: string) =>
    sseEvent(
      JSON.stringify({ type: "content_block_delta", index, delta: field === "text" ? { type: "text_delta", text } : { type: "input_json_delta", partial_json: text } }),
      "content_block_delta",
    );

  const ok = await pump(body, parser, out, outcome, (event) => drive(function* (): Step<boolean> {
    let data: Json;
    try {
      data = JSON.parse(event.data) as Json;
    } catch {
      out.add(sseEvent(event.data, event.event));
      return true;
    }
    if (data.type === "message_start") {
      const u = anthropicUsage(data.message?.usage);
      usage.input = u.input;
      usage.output = u.output;
    } else if (data.type === "message_delta" && data.usage) {
      if (data.usage.output_tokens !== undefined) usage.output = data.usage.output_tokens;
      if (data.usage.input_tokens !== undefined) usage.input = anthropicUsage(data.usage).input;
    }
    const deltaField = data.delta?.type === "text_delta" ? "text" : data.delta?.type === "input_json_delta" ? "partial_json" : undefined;
    if (newScanner && data.type === "content_block_delta" && deltaField) {
      const index = typeof data.index === "number" ? data.index : 0;
      let entry = scanners.get(index);
      if (!entry) {
        entry = { field: deltaField, scanner: newScanner() };
        scanners.set(index, entry);
      }
      const text = String(data.delta[deltaField] ?? "");
      const result = yield* settle(entry.scanner.push(text));
      if (result.action === "block") return blockWith(result.message);
      addRedactions(outcome, result);
      if (result.text === text) out.add(sseEvent(event.data, event.event));
      else if (result.text) out.add(blockDelta(index, deltaField, result.text));
      return true;
    }
    if (newScanner && (data.type === "content_block_stop" || data.type === "message_delta" || data.type === "message_stop")) {
      for (const [index, entry] of scanners) {
        if (data.type === "content_block_stop" && index !== data.index) continue;
        const result = yield* settle(entry.scanner.finish());
        scanners.delete(index);
        if (result.action === "block") return blockWith(result.message);
        addRedactions(outcome, result);
        if (result.text) out.add(blockDelta(index, entry.field, result.text));
      }
    }
    out.add(sseEvent(event.data, event.event));
    return true;
  }()));
  if (!ok) outcome.usage = { ...usage };
  outcome.usage ??= { ...usage };
  out.end();
  return outcome;
}

/** Feeds upstream chunks through the parser to `handle`; stops at the first `false`. */
async function pump(
  body: AsyncIterable<Uint8Array>,
  parser: SseParser,
  out: Output,
  outcome: StreamOutcome,
  handle: (event: { event: string | undefined; data: string }) => boolean | Promise<boolean>,
  onReadEnd?: () => boolean | Promise<boolean>,
): Promise<boolean> {
  let first = true;
  try {
    for await (const chunk of body) {
      for (const event of parser.push(chunk)) {
        const result = handle(event);
        if (!(result instanceof Promise ? await result : result)) {
          await out.flush();
          return false;
        }
        if (first) {
          // The stream's first event (role / message_start) goes out at once: time to first byte.
          first = false;
          await out.flush();
        }
      }
      if (onReadEnd) {
        const result = onReadEnd();
        if (!(result instanceof Promise ? await result : result)) {
          await out.flush();
          return false;
        }
      }
      await out.flush();
    }
    for (const event of parser.end()) {
      const result = handle(event);
      if (!(result instanceof Promise ? await result : result)) return false;
    }
    return true;
  } catch {
    outcome.broken = true;
    return false;
  }
}
