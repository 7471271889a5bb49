/**
 * The OpenAI → OpenAI stream relay (chat.completion.chunk events), scanning `delta.content` per choice,
 * tool-call arguments per call, and the reasoning OpenAI-compatible servers stream before the content.
 */
import type { StreamScanResult, StreamingCredentialScanner } from "../../../policies/guards/index.js";
import type { Json } from "../../http/json.js";
import type { MaybePromise } from "../../http/stage.js";
import { ChoiceText } from "./choice-text.js";
import { type ContentSlot, chunkBase, learnSlot, matchSlot } from "./openai-chunk.js";
import { type RelayOptions, Relay, type StreamOutcome, pump } from "./relay.js";
import { type SseEvent, sseEvent } from "./sse.js";
import { type Step, drive, settle } from "./steps.js";
import { openAiUsage } from "../usage.js";

/**
 * Reasoning text some OpenAI-compatible servers stream in `delta` (and answer in `message`) before the
 * content: `reasoning_content` (DeepSeek, vLLM), `reasoning` (OpenRouter, newer vLLM).
 */
export const REASONING_FIELDS = ["reasoning_content", "reasoning"] as const;

/**
 * OpenAI chat.completion.chunk stream → the client, scanning `delta.content` per choice and tool-call
 * arguments per call. Content-only chunks (nearly all of a stream) are recognised by their learned
 * shape without parsing, scanned together per upstream read, and sent as the upstream's own bytes once
 * the scanner releases them; only a chunk cut by the hold-back, or masked, is re-serialised.
 */
export async function relayOpenAiStream(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner, clientWantsUsage } = options;
  const relay = new Relay(res, "openai");
  const { outcome, out, parser } = relay;
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
  /** Scans the text queued since the last scan (per choice) and sends what is released. */
  const flushPending = (): MaybePromise<boolean> => {
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
    if (!relay.accept(result)) return false;
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
    if (!relay.accept(result)) return false;
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
      if (!relay.accept(result)) return false;
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
  /** Reasoning is scanned too, one scanner per (choice, field); its held tail goes out before the content. */
  const reasoningScanners = new Map<string, { choice: number; field: string; scanner: StreamingCredentialScanner }>();
  const flushReasoning = function* (choice?: number): Step<boolean> {
    for (const [key, entry] of reasoningScanners) {
      if (choice !== undefined && entry.choice !== choice) continue;
      reasoningScanners.delete(key);
      const result = yield* settle(entry.scanner.finish());
      if (!relay.accept(result)) return false;
      if (result.text && template)
        out.addData(
          JSON.stringify({
            ...chunkBase(template),
            choices: [
              { index: entry.choice, delta: { [entry.field]: result.text }, logprobs: null, finish_reason: null },
            ],
          }),
        );
    }
    return true;
  };
  const flushScanners = function* (): Step<boolean> {
    if (!(yield* flushReasoning())) return false;
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
    if (chunk.usage) {
      outcome.usage = openAiUsage(chunk.usage);
      if (typeof chunk.model === "string") outcome.model = chunk.model;
    }
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
      if (reasoningScanners.size > 0 && !(yield* flushReasoning(index))) return false;
      if (slots.length < 4 && !slots.some((s) => s.index === index)) {
        const slot = learnSlot(data, index, onlyDelta.content);
        if (slot) slots.push(slot);
      }
      textOf(index, newScanner).add(onlyDelta.content, event, parser.source, base, index);
      return true;
    }
    // Any other chunk: text queued before it is scanned and sent first.
    if (!(yield* settle(flushPending()))) return false;
    let modified = false;
    let emptied = true;
    for (const choice of choices) {
      const index = typeof choice.index === "number" ? choice.index : 0;
      const delta = (choice.delta ?? {}) as Json;
      // The reasoning ends where the content starts (or the choice finishes): its scanners release all they hold.
      const reasoningEnds = (typeof delta.content === "string" && delta.content.length > 0) || !!choice.finish_reason;
      for (const field of REASONING_FIELDS) {
        const text: unknown = delta[field];
        if (typeof text !== "string" || text.length === 0) continue;
        const key = `${index}/${field}`;
        let entry = reasoningScanners.get(key);
        if (!entry) {
          entry = { choice: index, field, scanner: newScanner() };
          reasoningScanners.set(key, entry);
        }
        if (reasoningEnds) reasoningScanners.delete(key);
        const result = yield* settle(reasoningEnds ? entry.scanner.finish(text) : entry.scanner.push(text));
        if (!relay.accept(result)) return false;
        if (result.text !== text) {
          delta[field] = result.text;
          modified = true;
        }
      }
      if (reasoningEnds && reasoningScanners.size > 0 && !(yield* flushReasoning(index))) return false;
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
        if (!relay.accept(result)) return false;
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
        textOf(index, newScanner).add(content, undefined, parser.source, base, index);
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

  const ok = await pump({
    relay,
    body,
    handle: (event) => drive(handle(event)),
    inPlace: fastContent,
    onReadEnd: flushPending,
    finished: () => done,
  });
  if (ok && !done && !outcome.broken) await drive(flushScanners());
  // A broken stream is not ended here: the caller aborts it, so the client cannot take it for complete.
  if (outcome.broken) await out.flush();
  else out.end();
  return outcome;
}
