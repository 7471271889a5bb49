/**
 * What the three stream relays share: their options and outcome, the one way a relay refuses a stream
 * (credential-leak block, in the client's wire format), and `pump`, which feeds upstream reads through the
 * SSE parser to a relay's event handler and decides when what the handler produced is written.
 */
import type { ServerResponse } from "node:http";
import type { StreamScanResult, StreamingCredentialScanner } from "../../../policies/guards/index.js";
import type { MaybePromise } from "../../http/stage.js";
import type { Usage } from "../usage.js";
import { Output } from "./output.js";
import { type SseEvent, SseParser, sseEvent } from "./sse.js";

export interface StreamOutcome {
  blocked: { guard: string; message: string } | undefined;
  redactions: Record<string, number> | undefined;
  usage: Usage | undefined;
  /** The model the provider reports it answered with. */
  model: string | undefined;
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

/** The wire format the client reads: where a refusal goes as an unnamed event or as an `error` event. */
export type ClientFormat = "openai" | "anthropic";

/** A scan's result that lets text through. */
export type Released = Extract<StreamScanResult, { action: "release" }>;

/** One relay's state toward the client: the outcome so far, the pending output, the parser of the upstream. */
export class Relay {
  readonly outcome: StreamOutcome = {
    blocked: undefined,
    redactions: undefined,
    usage: undefined,
    model: undefined,
    broken: false,
  };
  readonly out: Output;
  readonly parser = new SseParser();

  constructor(
    res: ServerResponse,
    private readonly format: ClientFormat,
  ) {
    this.out = new Output(res);
  }

  /** Ends the stream with the guard's refusal (the message names the guard, never the matched text). */
  block(message: string): false {
    this.outcome.blocked = { guard: "credential-leak", message };
    const error = { type: "permission_error", code: "guard_blocked", message, param: null };
    this.out.add(
      this.format === "anthropic"
        ? sseEvent(JSON.stringify({ type: "error", error }), "error")
        : sseEvent(JSON.stringify({ error })),
    );
    return false;
  }

  /** True when the scan released text (its redactions counted); false when it blocked, after sending the refusal. */
  accept(result: StreamScanResult): result is Released {
    if (result.action === "block") return this.block(result.message);
    if (result.redactions) {
      const counts = (this.outcome.redactions ??= {});
      for (const [kind, n] of Object.entries(result.redactions)) counts[kind] = (counts[kind] ?? 0) + n;
    }
    return true;
  }
}

export interface PumpOptions {
  readonly relay: Relay;
  readonly body: AsyncIterable<Uint8Array>;
  /** Handles one upstream event; false stops the stream (blocked or broken). */
  readonly handle: (event: SseEvent) => MaybePromise<boolean>;
  /** Takes the parser's current event in place when it can (true), before it is made an object for `handle`. */
  readonly inPlace?: () => boolean;
  /** Runs after each upstream read's events (a relay that batches scans per read scans here); false stops. */
  readonly onReadEnd?: () => MaybePromise<boolean>;
  /** The stream's last event was handled: what is pending can wait for the end of the response. */
  readonly finished?: () => boolean;
}

/**
 * Feeds upstream chunks through the parser to `handle`; stops at the first `false`. The first bytes for
 * the client go out as soon as there are any (time to first byte does not wait for the rest of a large
 * read); after that, what one read produced goes out in one write at the end of the read (as a
 * pass-through writes each read). Once `finished()` says the stream's last event was handled, that write
 * is left to the end of the response (the body's end follows in the same turn: one write instead of two),
 * with a safety flush on the next turn of the event loop should the upstream keep the body open.
 * Returns true when the upstream body ended and every event was handled.
 */
export async function pump(options: PumpOptions): Promise<boolean> {
  const { relay, body, handle, inPlace, onReadEnd, finished } = options;
  const { parser, out } = relay;
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
    relay.outcome.broken = true;
    return false;
  }
}
