/**
 * The relay between two wire formats: a reader turns the provider's events into stream ops, the
 * credential scanner runs over each text and tool-argument block (one scanner per block, so a key split
 * across any number of events is caught before any of it is sent), and a writer turns the ops into the
 * client's events. A block's held-back text is released before the block ends and before the answer stops.
 */
import type { StreamingCredentialScanner } from "../../../policies/guards/index.js";
import type { StreamOp, StreamReader, StreamWriter } from "./ops.js";
import { type ClientFormat, type RelayOptions, Relay, type StreamOutcome, pump } from "./relay.js";
import type { SseEvent } from "./sse.js";
import { type Step, drive, settle } from "./steps.js";

export async function relayTranslated(
  options: RelayOptions,
  client: ClientFormat,
  reader: StreamReader,
  writer: StreamWriter,
): Promise<StreamOutcome> {
  const { res, body, newScanner } = options;
  const relay = new Relay(res, client);
  const { outcome, out } = relay;
  const scanners = new Map<string, { kind: "text" | "args"; scanner: StreamingCredentialScanner }>();
  let done = false;

  const emit = (op: StreamOp) => {
    const text = writer.write(op);
    if (text) out.add(text);
  };
  /** Releases what `block`'s scanner still holds. */
  const finish = function* (block: string): Step<boolean> {
    const entry = scanners.get(block);
    if (!entry) return true;
    scanners.delete(block);
    const result = yield* settle(entry.scanner.finish());
    if (!relay.accept(result)) return false;
    if (result.text) emit({ kind: entry.kind, block, text: result.text });
    return true;
  };
  const finishAll = function* (): Step<boolean> {
    for (const block of [...scanners.keys()]) if (!(yield* finish(block))) return false;
    return true;
  };

  const apply = function* (op: StreamOp): Step<boolean> {
    switch (op.kind) {
      case "text":
      case "args": {
        if (!newScanner) {
          emit(op);
          return true;
        }
        let entry = scanners.get(op.block);
        if (!entry) {
          entry = { kind: op.kind, scanner: newScanner() };
          scanners.set(op.block, entry);
        }
        const result = yield* settle(entry.scanner.push(op.text));
        if (!relay.accept(result)) return false;
        if (result.text) emit({ ...op, text: result.text });
        return true;
      }
      case "end":
        if (!(yield* finish(op.block))) return false;
        emit(op);
        return true;
      case "stop":
      case "done":
        if (!(yield* finishAll())) return false;
        emit(op);
        if (op.kind === "done") done = true;
        return true;
      case "usage":
        outcome.usage = op.usage;
        emit(op);
        return true;
      case "error":
        emit(op);
        outcome.broken = true;
        return false;
      default:
        emit(op);
        return true;
    }
  };

  const handle = function* (event: SseEvent): Step<boolean> {
    if (done) return true;
    for (const op of reader.read(event)) if (!(yield* apply(op))) return false;
    return true;
  };

  const ok = await pump({ relay, body, handle: (event) => drive(handle(event)), finished: () => done });
  // An upstream that ended without its last event is a stream cut short: the caller aborts it.
  if (ok && !done && !outcome.broken) outcome.broken = true;
  if (outcome.broken) await out.flush();
  else out.end();
  return outcome;
}
