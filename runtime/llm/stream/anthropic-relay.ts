/**
 * The Anthropic Messages stream relays: translated into chat.completion.chunk events for OpenAI clients,
 * or passed through to Anthropic clients as is. Text and tool-input deltas are scanned per content block,
 * and so are thinking deltas where they reach the client (passed through; the translation leaves them out).
 */
import type { StreamingCredentialScanner } from "../../../policies/guards/index.js";
import type { Json } from "../../http/json.js";
import { AnthropicStreamTranslator } from "../anthropic-translate.js";
import { NO_USAGE, type Usage, anthropicUsage } from "../usage.js";
import { type RelayOptions, Relay, type StreamOutcome, pump } from "./relay.js";
import { type SseEvent, sseEvent } from "./sse.js";
import { type Step, drive, settle } from "./steps.js";

/** Anthropic Messages stream → chat.completion.chunk stream. */
export async function relayAnthropicAsOpenAi(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner, clientWantsUsage } = options;
  const relay = new Relay(res, "openai");
  const { outcome, out } = relay;
  const translator = new AnthropicStreamTranslator();
  let scanner: StreamingCredentialScanner | undefined;
  const toolScanners = new Map<number, StreamingCredentialScanner>();
  let done = false;

  const emitText = (text: string) => {
    if (text) out.add(sseEvent(JSON.stringify(translator.chunk({ content: text }))));
  };
  const flushTool = function* (index: number): Step<boolean> {
    const toolScanner = toolScanners.get(index);
    if (!toolScanner) return true;
    toolScanners.delete(index);
    const result = yield* settle(toolScanner.finish());
    if (!relay.accept(result)) return false;
    if (result.text) out.add(sseEvent(JSON.stringify(translator.toolArgsChunk(index, result.text))));
    return true;
  };
  const flush = function* (): Step<boolean> {
    for (const index of [...toolScanners.keys()]) if (!(yield* flushTool(index))) return false;
    if (!scanner) return true;
    const result = yield* settle(scanner.finish());
    scanner = undefined;
    if (!relay.accept(result)) return false;
    emitText(result.text);
    return true;
  };

  const handle = function* (event: SseEvent): Step<boolean> {
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
      if (!relay.accept(result)) return false;
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
      if (!relay.accept(result)) return false;
      if (result.text) out.add(sseEvent(JSON.stringify(translator.toolArgsChunk(index, result.text))));
      return true;
    }
    if (step.toolEnd !== undefined) return yield* flushTool(step.toolEnd);
    if (step.chunks || step.done) {
      if (!(yield* flush())) return false;
    }
    for (const chunk of step.chunks ?? []) out.add(sseEvent(JSON.stringify(chunk)));
    if (step.done) {
      outcome.usage = translator.usage;
      if (clientWantsUsage) out.add(sseEvent(JSON.stringify(translator.usageChunk())));
      out.add("data: [DONE]\n\n");
      done = true;
    }
    return true;
  };

  const ok = await pump({ relay, body, handle: (event) => drive(handle(event)) });
  if (ok && !done && !outcome.broken) await drive(flush());
  outcome.usage ??= translator.usage;
  outcome.model = translator.model || undefined;
  // A broken stream is not ended here: the caller aborts it, so the client cannot take it for complete.
  if (outcome.broken) await out.flush();
  else out.end();
  return outcome;
}

/** The scanned field of each delta type of a content block, and back. */
const DELTA_FIELDS: ReadonlyMap<unknown, DeltaField> = new Map([
  ["text_delta", "text"],
  ["input_json_delta", "partial_json"],
  ["thinking_delta", "thinking"],
]);
const DELTA_TYPES: Readonly<Record<DeltaField, string>> = {
  text: "text_delta",
  partial_json: "input_json_delta",
  thinking: "thinking_delta",
};
type DeltaField = "text" | "partial_json" | "thinking";

/**
 * Anthropic Messages stream → the Anthropic client as is, scanning text, tool-input and thinking deltas
 * per content block. A masked thinking block no longer matches its signature: the provider refuses it if
 * the client sends it back in a later turn (block mode has no such effect).
 */
export async function relayAnthropicNative(options: RelayOptions): Promise<StreamOutcome> {
  const { res, body, newScanner } = options;
  const relay = new Relay(res, "anthropic");
  const { outcome, out } = relay;
  /** One scanner per content block: text, tool-input JSON and thinking deltas alike. */
  const scanners = new Map<number, { field: DeltaField; scanner: StreamingCredentialScanner }>();
  let usage: Usage = NO_USAGE;

  const blockDelta = (index: number, field: DeltaField, text: string) =>
    sseEvent(
      JSON.stringify({ type: "content_block_delta", index, delta: { type: DELTA_TYPES[field], [field]: text } }),
      "content_block_delta",
    );

  const handle = function* (event: SseEvent): Step<boolean> {
    let data: Json;
    try {
      data = JSON.parse(event.data) as Json;
    } catch {
      out.add(sseEvent(event.data, event.event));
      return true;
    }
    if (data.type === "message_start") {
      usage = anthropicUsage(data.message?.usage);
      if (typeof data.message?.model === "string") outcome.model = data.message.model;
    } else if (data.type === "message_delta" && data.usage) usage = anthropicUsage(data.usage, usage);
    const deltaField = DELTA_FIELDS.get(data.delta?.type);
    if (newScanner && data.type === "content_block_delta" && deltaField) {
      const index = typeof data.index === "number" ? data.index : 0;
      let entry = scanners.get(index);
      if (!entry) {
        entry = { field: deltaField, scanner: newScanner() };
        scanners.set(index, entry);
      }
      const text = String(data.delta[deltaField] ?? "");
      const result = yield* settle(entry.scanner.push(text));
      if (!relay.accept(result)) return false;
      if (result.text === text) out.add(sseEvent(event.data, event.event));
      else if (result.text) out.add(blockDelta(index, deltaField, result.text));
      return true;
    }
    // A block's held text goes out before the block ends, and a thinking block's before its signature.
    const blockEnds = data.type === "content_block_stop" || data.delta?.type === "signature_delta";
    if (newScanner && (blockEnds || data.type === "message_delta" || data.type === "message_stop")) {
      for (const [index, entry] of scanners) {
        if (blockEnds && index !== data.index) continue;
        const result = yield* settle(entry.scanner.finish());
        scanners.delete(index);
        if (!relay.accept(result)) return false;
        if (result.text) out.add(blockDelta(index, entry.field, result.text));
      }
    }
    out.add(sseEvent(event.data, event.event));
    return true;
  };

  const ok = await pump({ relay, body, handle: (event) => drive(handle(event)) });
  if (!ok) outcome.usage = usage;
  outcome.usage ??= usage;
  // A broken stream is not ended here: the caller aborts it, so the client cannot take it for complete.
  if (outcome.broken) await out.flush();
  else out.end();
  return outcome;
}
