/**
 * The OpenAI Responses stream relay (Responses client, OpenAI provider): events pass through as they
 * came, except that output text (`response.output_text.delta`, `response.refusal.delta`), function-call
 * arguments (`response.function_call_arguments.delta`) and reasoning (`response.reasoning_summary_text.delta`,
 * `response.reasoning_text.delta`) are scanned for credentials, one scanner per content part, summary part
 * or call. The `.done` events and `response.completed` repeat the whole texts: when the guard changed a
 * text (mask mode) they carry the text that was sent instead of the provider's.
 */
import type { StreamingCredentialScanner } from "../../../policies/guards/index.js";
import type { Json } from "../../http/json.js";
import { responsesWireUsage } from "../usage.js";
import { type RelayOptions, Relay, type StreamOutcome, pump } from "./relay.js";
import { type SseEvent, sseEvent } from "./sse.js";
import { type Step, drive, settle } from "./steps.js";

/** A scanned text: its scanner, what was sent of it, and its last delta event (the model of a released rest). */
interface Scanned {
  readonly scanner: StreamingCredentialScanner;
  last: { readonly name: string | undefined; readonly data: Json };
  sent: string;
  changed: boolean;
}

const DELTAS = new Set([
  "response.output_text.delta",
  "response.refusal.delta",
  "response.function_call_arguments.delta",
  "response.reasoning_summary_text.delta",
  "response.reasoning_text.delta",
]);
const DONES = new Set([
  "response.output_text.done",
  "response.refusal.done",
  "response.function_call_arguments.done",
  "response.reasoning_summary_text.done",
  "response.reasoning_summary_part.done",
  "response.reasoning_text.done",
]);
const FINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);

/**
 * The key of a text: output item and content part (a function call has one text, a reasoning item's
 * raw reasoning is in content parts too), or output item and summary part (`s` and its index).
 */
const keyOf = (data: Json) =>
  typeof data.summary_index === "number"
    ? summaryKey(Number(data.output_index ?? 0), data.summary_index)
    : `${String(data.output_index ?? 0)}/${String(data.content_index ?? 0)}`;
const summaryKey = (outputIndex: number, summaryIndex: number) => `${outputIndex}/s${summaryIndex}`;

export async function relayResponsesNative(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner } = options;
  const relay = new Relay(res, "openai");
  const { outcome, out } = relay;
  const texts = new Map<string, Scanned>();
  let done = false;

  const send = (name: string | undefined, data: Json) => out.add(sseEvent(JSON.stringify(data), name));

  /** Releases what the text's scanner still holds, as one more delta like its last. */
  const finish = function* (key: string): Step<boolean> {
    const text = texts.get(key);
    if (!text || text.scanner.held === 0) return true;
    const result = yield* settle(text.scanner.finish());
    if (!relay.accept(result)) return false;
    if (result.redactions) text.changed = true;
    if (result.text) {
      text.sent += result.text;
      send(text.last.name, { ...text.last.data, delta: result.text });
    }
    return true;
  };
  const finishAll = function* (): Step<boolean> {
    for (const key of texts.keys()) if (!(yield* finish(key))) return false;
    return true;
  };

  /** The texts the guard changed, written back into a `.done` event or the final response. */
  const rewrite = (data: Json): boolean => {
    let changed = false;
    const apply = (outputIndex: number, item: Json) => {
      if (!item || typeof item !== "object") return;
      if (item.type === "function_call") {
        const text = texts.get(`${outputIndex}/0`);
        if (text?.changed) {
          item.arguments = text.sent;
          changed = true;
        }
        return;
      }
      for (const [index, part] of (Array.isArray(item.content) ? (item.content as Json[]) : []).entries()) {
        const text = texts.get(`${outputIndex}/${index}`);
        if (!text?.changed || !part) continue;
        if (typeof part.text === "string") part.text = text.sent;
        if (typeof part.refusal === "string") part.refusal = text.sent;
        changed = true;
      }
      for (const [index, part] of (Array.isArray(item.summary) ? (item.summary as Json[]) : []).entries()) {
        const text = texts.get(summaryKey(outputIndex, index));
        if (!text?.changed || !part || typeof part.text !== "string") continue;
        part.text = text.sent;
        changed = true;
      }
    };
    if (FINAL.has(data.type)) {
      for (const [index, item] of (Array.isArray(data.response?.output)
        ? (data.response.output as Json[])
        : []
      ).entries())
        apply(index, item);
      return changed;
    }
    const text = texts.get(keyOf(data));
    if (!text?.changed) {
      if (data.type === "response.output_item.done") apply(Number(data.output_index ?? 0), data.item);
      return changed;
    }
    if (
      data.type === "response.output_text.done" ||
      data.type === "response.reasoning_summary_text.done" ||
      data.type === "response.reasoning_text.done"
    )
      data.text = text.sent;
    else if (data.type === "response.refusal.done") data.refusal = text.sent;
    else if (data.type === "response.function_call_arguments.done") data.arguments = text.sent;
    else if (
      (data.type === "response.content_part.done" || data.type === "response.reasoning_summary_part.done") &&
      data.part
    ) {
      if (typeof data.part.text === "string") data.part.text = text.sent;
      if (typeof data.part.refusal === "string") data.part.refusal = text.sent;
    } else if (data.type === "response.output_item.done") apply(Number(data.output_index ?? 0), data.item);
    return true;
  };

  const handle = function* (event: SseEvent): Step<boolean> {
    let data: Json;
    try {
      data = JSON.parse(event.data) as Json;
    } catch {
      out.add(sseEvent(event.data, event.event));
      return true;
    }
    const type = String(data.type ?? event.event ?? "");
    if (type === "error") {
      out.add(sseEvent(event.data, event.event));
      outcome.broken = true;
      return false;
    }
    if (FINAL.has(type)) {
      if (data.response?.usage) outcome.usage = responsesWireUsage(data.response.usage);
      done = true;
    }
    if (newScanner && DELTAS.has(type) && typeof data.delta === "string") {
      const key = keyOf(data);
      let text = texts.get(key);
      if (!text) {
        text = { scanner: newScanner(), last: { name: event.event, data }, sent: "", changed: false };
        texts.set(key, text);
      }
      text.last = { name: event.event, data };
      const result = yield* settle(text.scanner.push(data.delta));
      if (!relay.accept(result)) return false;
      text.sent += result.text;
      if (result.redactions) text.changed = true;
      if (result.text === data.delta) out.add(sseEvent(event.data, event.event));
      else if (result.text) send(event.event, { ...data, delta: result.text });
      return true;
    }
    if (newScanner && DONES.has(type) && !(yield* finish(keyOf(data)))) return false;
    if (newScanner && FINAL.has(type) && !(yield* finishAll())) return false;
    if (newScanner && rewrite(data)) send(event.event, data);
    else out.add(sseEvent(event.data, event.event));
    return true;
  };

  const ok = await pump({ relay, body, handle: (event) => drive(handle(event)), finished: () => done });
  if (ok && !done && !outcome.broken) outcome.broken = true;
  if (outcome.broken) await out.flush();
  else out.end();
  return outcome;
}
