/**
 * The client side of a relayed stream: what one upstream read produced is gathered here and leaves in one
 * socket write, honouring back-pressure. Upstream events forwarded unchanged are kept as spans of the text
 * their read parsed, so they go out as the upstream's own bytes.
 */
import type { ServerResponse } from "node:http";
import { drainOrClose } from "../../http/drain.js";
import type { SseSource } from "./sse.js";

/**
 * Buffers what one upstream chunk produced and writes it at once (one socket write), waiting for drain when needed.
 * Upstream events forwarded unchanged are added as spans of the text their read parsed: adjacent spans
 * merge into one run, written as a slice of the upstream's own bytes when the read was plain ASCII
 * (no re-encoding, no per-event pieces), else as one slice of its text.
 */
export class Output {
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
    return drained ? undefined : drainOrClose(res);
  }
}
