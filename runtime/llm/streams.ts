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
import type { ReleaseBoundaries, StreamScanResult, StreamingCredentialScanner } from "../../policies/guards/index.js";
import { AnthropicStreamTranslator, anthropicUsage } from "./anthropic-translate.js";
import { type SseEvent, SseParser, type SseSource, sseEvent } from "./sse.js";

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

const BLOCK_ERROR = (message: string) => ({
  error: { type: "permission_error", code: "guard_blocked", message, param: null },
});

/**
 * Buffers what one upstream chunk produced and writes it at once (one socket write), waiting for drain when needed.
 * Upstream events forwarded unchanged are added as spans of the text their read parsed: adjacent spans
 * merge into one run, written as a slice of the upstream's own bytes when the read was plain ASCII
 * (no re-encoding, no per-event pieces), else as one slice of its text.
 */
class Output {
  private parts: (string | Uint8Array)[] = [];
  /** The open run of forwarded upstream text: [runStart, runEnd) of runSource. */
  private runSource: SseSource | undefined;
  private runStart = 0;
  private runEnd = 0;
  constructor(private readonly res: ServerResponse) {}
  add(text: string): void {
    this.closeRun();
    this.parts.push(text);
  }
  /** Adds `data: <data>\n\n` (an unnamed event). */
  addData(data: string): void {
    this.closeRun();
    this.parts.push("data: ", data, "\n\n");
  }
  /** Adds upstream text as it is: `source.text` from `start` to `end`. */
  addSpan(source: SseSource, start: number, end: number): void {
    if (this.runSource === source && this.runEnd === start) {
      this.runEnd = end;
      return;
    }
    this.closeRun();
    this.runSource = source;
    this.runStart = start;
    this.runEnd = end;
  }
  private closeRun(): void {
    const source = this.runSource;
    if (!source) return;
    this.runSource = undefined;
    this.parts.push(
      source.bytes ? source.bytes.subarray(this.runStart, this.runEnd) : source.text.slice(this.runStart, this.runEnd),
    );
  }
  /**
   * What is pending, in order: adjacent strings joined, the upstream's bytes left as they are (written as
   * parts of one socket write rather than copied into one buffer).
   */
  private take(): (string | Uint8Array)[] {
    this.closeRun();
    const parts = this.parts;
    this.parts = [];
    if (parts.length <= 1) return parts;
    const merged: (string | Uint8Array)[] = [];
    let text = "";
    for (const part of parts) {
      if (typeof part === "string") {
        text += part;
        continue;
      }
      if (text) merged.push(text);
      text = "";
      merged.push(part);
    }
    if (text) merged.push(text);
    return merged;
  }
  /**
   * Ends the response with whatever is still pending, in one write to the socket. The socket is corked,
   * not the response: a corked response's chunks would go out after the `end()`'s last chunk.
   */
  end(): void {
    const parts = this.take();
    const res = this.res;
    if (res.writableEnded) return;
    const last = parts.length - 1;
    if (last > 0) res.socket?.cork();
    for (let i = 0; i < last; i++) res.write(parts[i] as string | Uint8Array);
    res.end(parts[last]); // uncorks the socket fully
  }
  /** Something is waiting to be written. */
  get pending(): boolean {
    return this.parts.length > 0 || this.runSource !== undefined;
  }
  /**
   * Writes what is pending; a promise only when the client is not keeping up (wait for it).
   * A `res.write` on an uncorked socket corks it and sends on the next tick, so what is flushed during one
   * tick leaves in one socket write (undici may hand one read of the upstream over in several chunks).
   * `now`: the bytes leave at once, ahead of the rest of this tick's work. That is for the first event,
   * which otherwise waits for the parsing and scanning of everything else in its read.
   */
  flush(now = false): Promise<void> | undefined {
    if (!this.pending || this.res.writableEnded || this.res.destroyed) return undefined;
    const parts = this.take();
    const res = this.res;
    // Corked by us, the socket sends at our uncork (unless a write earlier in this tick corked it already).
    const socket = now || parts.length > 1 ? res.socket : null;
    let drained = true;
    socket?.cork();
    for (const part of parts) drained = res.write(part);
    socket?.uncork();
    return drained ? undefined : new Promise<void>((resolve) => res.once("drain", resolve));
  }
}

function addRedactions(outcome: StreamOutcome, result: StreamScanResult): void {
  if (result.action !== "release" || !result.redactions) return;
  outcome.redactions ??= {};
  for (const [kind, n] of Object.entries(result.redactions))
    outcome.redactions[kind] = (outcome.redactions[kind] ?? 0) + n;
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

/**
 * The shape of one content-only chunk of a stream, learned from the first such chunk: everything before
 * and after the `delta.content` string literal. Later chunks with the same prefix and suffix (same id,
 * model, choice index; OpenAI repeats them in every chunk) are recognised without `JSON.parse`.
 */
interface ContentSlot {
  readonly index: number;
  /** Up to and including the opening quote of the content literal. */
  readonly prefix: string;
  /** From the closing quote of the content literal on. */
  readonly suffix: string;
}

/** Characters that make a content literal need real JSON decoding (or rule out the fast path). */
const JSON_SPECIAL = /["\\\u0000-\u001f]/;

/** The decoded content when `text` from `start` to `end` (an event's data) is `slot` with a string literal in it, else undefined. */
function matchSlot(slot: ContentSlot, text: string, start: number, end: number): string | undefined {
  const { prefix, suffix } = slot;
  // Slices compared with ===, not startsWith at a position: V8 compares flat slices with memcmp, startsWith character by character.
  if (
    end - start <= prefix.length + suffix.length ||
    text.slice(start, start + prefix.length) !== prefix ||
    text.slice(end - suffix.length, end) !== suffix
  )
    return undefined;
  const inner = text.slice(start + prefix.length, end - suffix.length);
  if (!JSON_SPECIAL.test(inner)) return inner;
  // An unescaped quote could end the literal early and add members: only plain escapes take this path.
  if (inner.includes('"')) return undefined;
  try {
    const decoded: unknown = JSON.parse(`"${inner}"`);
    return typeof decoded === "string" && decoded.length > 0 ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Learns the slot of a parsed content-only chunk (one choice, `delta` = `{content}`): the literal must
 * occur once, and the text with another string in the slot must parse to a content-only chunk with that
 * string as its content. Everything outside the slot is the same text as the parsed chunk, so the slot
 * is exactly `choices[0].delta.content`.
 */
function learnSlot(data: string, index: number, content: string): ContentSlot | undefined {
  if (content.length === 0) return undefined;
  const needle = `"content":${JSON.stringify(content)}`;
  const at = data.indexOf(needle);
  if (at < 0 || data.indexOf(needle, at + 1) >= 0) return undefined;
  const slot = { index, prefix: data.slice(0, at + 11), suffix: data.slice(at + needle.length - 1) };
  const marker = content === "\u0001" ? "\u0002" : "\u0001";
  try {
    const probe = JSON.parse(`${slot.prefix}${JSON.stringify(marker).slice(1, -1)}${slot.suffix}`) as Json;
    const choices = probe.choices as Json[] | undefined;
    const delta = choices?.[0]?.delta as Json | undefined;
    return Array.isArray(choices) &&
      choices.length === 1 &&
      delta?.content === marker &&
      Object.keys(delta).length === 1
      ? slot
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Content of one event not yet sent because the scanner still holds (some of) it. No closure per event
 * (each would cost an allocation and, under tsx, a `__name` property definition): the event is rebuilt
 * from its slot, or from the chunk's other members, only when it has to be.
 */
interface HeldContent {
  readonly content: string;
  /** The upstream event's data, sent as is when its whole content is released unchanged. */
  readonly raw: string | undefined;
  /** Where the upstream event lies in the text its read parsed (forwarded as a span when known). */
  readonly source: SseSource | undefined;
  readonly start: number;
  readonly end: number;
  /** The learned shape of the event, when known. */
  readonly slot: ContentSlot | undefined;
  /** Otherwise the upstream chunk (its members other than `choices` and `usage` are repeated), and the choice index. */
  readonly base: Json | undefined;
  readonly index: number;
  /** Characters of `content` already sent. */
  offset: number;
}

/** A chunk's members other than `choices` and `usage`: what a rebuilt chunk repeats. */
function chunkBase(chunk: Json | undefined): Json {
  if (!chunk) return {};
  const { choices: _choices, usage: _usage, ...base } = chunk;
  return base;
}

/** The event's data with another content (a partial release, or masked text). */
function rewrap(item: HeldContent, text: string): string {
  if (item.slot) return `${item.slot.prefix}${JSON.stringify(text).slice(1, -1)}${item.slot.suffix}`;
  return JSON.stringify({
    ...chunkBase(item.base),
    choices: [{ index: item.index, delta: { content: text }, logprobs: null, finish_reason: null }],
  });
}

/**
 * The text stream of one choice: its scanner and the events whose content it has not released yet.
 * As the scanner's release boundaries it offers the ends of those events, so clean text is released
 * as whole events (the upstream's own bytes) rather than cut mid-event and re-serialised.
 */
class ChoiceText implements ReleaseBoundaries {
  readonly held: HeldContent[] = [];
  /** Characters in `held` not sent yet (the scanner holds the tail of them). */
  heldChars = 0;
  /** Text queued since the last scan. */
  unscanned = "";
  constructor(readonly scanner: StreamingCredentialScanner) {}

  add(
    content: string,
    raw: SseEvent | undefined,
    source: SseSource | undefined,
    slot: ContentSlot | undefined,
    base: Json | undefined,
    index: number,
  ): void {
    const spanned = raw?.start !== undefined && raw.end !== undefined ? source : undefined;
    this.held.push({
      content,
      raw: raw?.data,
      source: spanned,
      start: raw?.start ?? 0,
      end: raw?.end ?? 0,
      slot,
      base,
      index,
      offset: 0,
    });
    this.heldChars += content.length;
    this.unscanned += content;
  }

  /** Adds the content of an event of a learned shape that lies in `source.text` from `start` to `end`. */
  addSpanned(content: string, source: SseSource, start: number, end: number, slot: ContentSlot): void {
    this.held.push({
      content,
      raw: undefined,
      source,
      start,
      end,
      slot,
      base: undefined,
      index: slot.index,
      offset: 0,
    });
    this.heldChars += content.length;
    this.unscanned += content;
  }

  boundaryAtOrBefore(cut: number): number {
    let best = 0;
    let position = 0;
    for (const item of this.held) {
      position += item.content.length - item.offset;
      if (position > cut) break;
      best = position;
    }
    return best;
  }

  /** Scans `text` (the text queued since the last scan) with event-aligned release. */
  push(text: string): StreamScanResult | Promise<StreamScanResult> {
    return this.scanner.push(text, this);
  }

  /**
   * After a scan: sends what the scanner released. Released text equal to the original goes out as the
   * original events (byte for byte when whole); a partial event or masked text goes out re-wrapped.
   */
  release(result: { readonly text: string; readonly redactions?: unknown }, out: Output): void {
    const consumed = this.heldChars - this.scanner.held;
    if (consumed <= 0) return;
    // Without redactions the scanner released exactly the first `consumed` characters it held; with them
    // (mask or log mode), the text is compared with the original to know whether it changed.
    let unchanged = result.redactions === undefined;
    if (!unchanged) {
      let original = "";
      let left = consumed;
      for (const item of this.held) {
        if (left <= 0) break;
        const end = Math.min(item.content.length, item.offset + left);
        original += item.content.slice(item.offset, end);
        left -= end - item.offset;
      }
      unchanged = result.text === original;
      if (!unchanged && result.text && this.held[0]) out.addData(rewrap(this.held[0], result.text));
    }
    let left = consumed;
    let drop = 0;
    for (const item of this.held) {
      if (left <= 0) break;
      const start = item.offset;
      const end = Math.min(item.content.length, start + left);
      if (unchanged) {
        const whole = start === 0 && end === item.content.length;
        if (whole && item.source) out.addSpan(item.source, item.start, item.end);
        else out.addData(whole && item.raw !== undefined ? item.raw : rewrap(item, item.content.slice(start, end)));
      }
      left -= end - start;
      item.offset = end;
      if (end === item.content.length) drop++;
    }
    this.held.splice(0, drop);
    this.heldChars -= consumed;
  }
}

/**
 * OpenAI chat.completion.chunk stream → the client, scanning `delta.content` per choice and tool-call
 * arguments per call. Content-only chunks (nearly all of a stream) are recognised by their learned
 * shape without parsing, scanned together per upstream read, and sent as the upstream's own bytes once
 * the scanner releases them; only a chunk cut by the hold-back, or masked, is re-serialised.
 */
export async function relayOpenAiStream(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner, clientWantsUsage } = options;
  const outcome = newOutcome();
  const out = new Output(res);
  const parser = new SseParser();
  const texts = new Map<number, ChoiceText>();
  const slots: ContentSlot[] = [];
  let template: Json | undefined;
  let done = false;

  const textOf = (index: number, scanner: () => StreamingCredentialScanner): ChoiceText => {
    let text = texts.get(index);
    if (!text) {
      text = new ChoiceText(scanner());
      texts.set(index, text);
    }
    return text;
  };
  const block = (message: string): false => {
    outcome.blocked = { guard: "credential-leak", message };
    out.add(sseEvent(JSON.stringify(BLOCK_ERROR(message))));
    return false;
  };

  /** Scans the text queued since the last scan (per choice) and sends what is released. */
  const flushPending = (): boolean | Promise<boolean> => {
    for (const text of texts.values()) {
      if (!text.unscanned) continue;
      const queued = text.unscanned;
      text.unscanned = "";
      const result = text.push(queued);
      // Synchronous unless the scan needs secretlint: then the rest continues when it is done.
      if (result instanceof Promise) return result.then((r) => sendReleased(text, r) && flushPending());
      if (!sendReleased(text, result)) return false;
    }
    return true;
  };
  const sendReleased = (text: ChoiceText, result: StreamScanResult): boolean => {
    if (result.action === "block") return block(result.message);
    addRedactions(outcome, result);
    text.release(result, out);
    return true;
  };
  /** The choice's text ended: scans and sends everything still held. */
  const finishText = function* (index: number): Step<boolean> {
    const text = texts.get(index);
    if (!text) return true;
    texts.delete(index);
    // The queued text and the held tail in one final scan: the last word is not cut into a rebuilt event.
    const queued = text.unscanned;
    text.unscanned = "";
    const result = yield* settle(text.scanner.finish(queued));
    if (result.action === "block") return block(result.message);
    addRedactions(outcome, result);
    text.release(result, out);
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
        out.add(
          sseEvent(
            JSON.stringify({
              ...chunkBase(template),
              choices: [
                {
                  index: entry.choice,
                  delta: { tool_calls: [{ index: entry.tool, function: { arguments: result.text } }] },
                  logprobs: null,
                  finish_reason: null,
                },
              ],
            }),
          ),
        );
      }
    }
    return true;
  };
  const flushScanners = function* (): Step<boolean> {
    if (!(yield* settle(flushPending()))) return false;
    if (!(yield* flushToolScanners())) return false;
    for (const index of [...texts.keys()]) if (!(yield* finishText(index))) return false;
    return true;
  };

  /** The parser's current event, when it is a content-only chunk of a learned shape: queued for the next scan, no parse, no event object. */
  const fastContent = (): boolean => {
    if (!newScanner || !parser.simple) return false;
    const source = parser.source;
    for (const slot of slots) {
      const content = matchSlot(slot, source.text, parser.dataStart, parser.dataEnd);
      if (content === undefined) continue;
      textOf(slot.index, newScanner).addSpanned(content, source, parser.blockStart, parser.blockEnd, slot);
      return true;
    }
    return false;
  };

  /** Sends an upstream event unchanged: as a span of its read when known. */
  const forward = (event: SseEvent): void => {
    if (event.start !== undefined && event.end !== undefined) out.addSpan(parser.source, event.start, event.end);
    else out.addData(event.data);
  };

  const handle = function* (event: SseEvent): Step<boolean> {
    const data = event.data;
    if (data === "[DONE]") {
      if (!(yield* flushScanners())) return false;
      forward(event);
      done = true;
      return true;
    }
    let chunk: Json;
    try {
      chunk = JSON.parse(data) as Json;
    } catch {
      forward(event);
      return true;
    }
    if (chunk.usage)
      outcome.usage = { input: chunk.usage.prompt_tokens ?? 0, output: chunk.usage.completion_tokens ?? 0 };
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as Json[]) : [];
    if (choices.length === 0) {
      if (chunk.usage && !clientWantsUsage) return true;
      if (!(yield* flushScanners())) return false;
      forward(event);
      return true;
    }
    if (!newScanner) {
      forward(event);
      return true;
    }
    // The chunk's other members (id, model, …) are copied out only when an event has to be rebuilt.
    const base = chunk;
    template ??= chunk;
    const only = choices.length === 1 ? choices[0] : undefined;
    const onlyDelta = only?.delta as Json | undefined;
    if (
      only &&
      !only.finish_reason &&
      only.logprobs == null &&
      onlyDelta &&
      typeof onlyDelta.content === "string" &&
      onlyDelta.content.length > 0 &&
      Object.keys(onlyDelta).length === 1
    ) {
      const index = typeof only.index === "number" ? only.index : 0;
      if (slots.length < 4 && !slots.some((s) => s.index === index)) {
        const slot = learnSlot(data, index, onlyDelta.content);
        if (slot) slots.push(slot);
      }
      textOf(index, newScanner).add(onlyDelta.content, event, parser.source, undefined, base, index);
      return true;
    }
    // Any other chunk: text queued before it is scanned and sent first.
    if (!(yield* settle(flushPending()))) return false;
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
        // Content next to other fields (role, tool calls, finish): it joins the choice's text stream and
        // goes out, as far as released, in a content-only chunk: before this chunk when it finishes the
        // choice, else right after it (after the role it may carry).
        const content = delta.content;
        delete delta.content;
        modified = true;
        textOf(index, newScanner).add(content, undefined, undefined, undefined, base, index);
      }
      if (choice.finish_reason) {
        if (!(yield* flushToolScanners(index))) return false;
        if (!(yield* finishText(index))) return false;
      }
      if (choice.finish_reason || Object.keys(delta).length > 0 || !modified) emptied = false;
    }
    if (modified && !emptied) out.addData(JSON.stringify(chunk));
    else if (!modified) forward(event);
    return yield* settle(flushPending());
  };

  const ok = await pump(
    body,
    parser,
    out,
    outcome,
    (event) => drive(handle(event)),
    flushPending,
    () => done,
    fastContent,
  );
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

  const ok = await pump(body, parser, out, outcome, (event) =>
    drive(
      (function* (): Step<boolean> {
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
      })(),
    ),
  );
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
      JSON.stringify({
        type: "content_block_delta",
        index,
        delta: field === "text" ? { type: "text_delta", text } : { type: "input_json_delta", partial_json: text },
      }),
      "content_block_delta",
    );

  const ok = await pump(body, parser, out, outcome, (event) =>
    drive(
      (function* (): Step<boolean> {
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
        const deltaField =
          data.delta?.type === "text_delta"
            ? "text"
            : data.delta?.type === "input_json_delta"
              ? "partial_json"
              : undefined;
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
        if (
          newScanner &&
          (data.type === "content_block_stop" || data.type === "message_delta" || data.type === "message_stop")
        ) {
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
      })(),
    ),
  );
  if (!ok) outcome.usage = { ...usage };
  outcome.usage ??= { ...usage };
  out.end();
  return outcome;
}

/**
 * Feeds upstream chunks through the parser to `handle`; stops at the first `false`. The first bytes for
 * the client go out as soon as there are any (time to first byte does not wait for the rest of a large
 * read); after that, what one read produced goes out in one write at the end of the read (as a
 * pass-through writes each read). Once
 * `finished()` says the stream's last event was handled, that write is left to the end of the response
 * (the body's end follows in the same turn: one write instead of two), with a safety flush on the next
 * turn of the event loop should the upstream keep the body open.
 */
async function pump(
  body: AsyncIterable<Uint8Array>,
  parser: SseParser,
  out: Output,
  outcome: StreamOutcome,
  handle: (event: SseEvent) => boolean | Promise<boolean>,
  onReadEnd?: () => boolean | Promise<boolean>,
  finished?: () => boolean,
  /** Takes the parser's current event in place when it can (true), before it is made an object for `handle`. */
  inPlace?: () => boolean,
): Promise<boolean> {
  let started = false;
  try {
    for await (const chunk of body) {
      parser.feed(chunk);
      while (parser.next()) {
        if (inPlace?.()) continue;
        const event = parser.event();
        if (!event) continue;
        const result = handle(event);
        if (!(result instanceof Promise ? await result : result)) {
          await out.flush();
          return false;
        }
        if (!started && out.pending) {
          started = true;
          const backpressure = out.flush(true);
          if (backpressure) await backpressure;
        }
      }
      if (onReadEnd) {
        const result = onReadEnd();
        if (!(result instanceof Promise ? await result : result)) {
          await out.flush();
          return false;
        }
      }
      if (finished?.()) setImmediate(() => void out.flush());
      else {
        const backpressure = out.flush();
        if (backpressure) await backpressure;
      }
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
