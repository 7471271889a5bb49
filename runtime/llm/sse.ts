/**
 * Incremental Server-Sent Events parsing (WHATWG rules for `event:` and `data:` lines), fed with
 * arbitrary byte chunks. Only what LLM streams use: event name and (multi-line) data. Hot path: one
 * cursor walk per read, no regex unless a stream uses CR line endings.
 */
import { StringDecoder } from "node:string_decoder";

export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
  /**
   * For the usual block (one `data: ` line): where the whole block, blank line included, lies in
   * `source.text` (the text parsed by the read that completed it), so a relay can forward it unchanged.
   */
  readonly start?: number;
  readonly end?: number;
}

/** The text one `push` parsed; `bytes` when it is that read's own bytes, character for byte (ASCII, nothing carried over). */
export interface SseSource {
  readonly text: string;
  readonly bytes: Uint8Array | undefined;
}

export class SseParser {
  private buffer = "";
  private readonly decoder = new StringDecoder("utf8");
  /** The text the last `push` parsed (event spans refer to it). */
  source: SseSource = { text: "", bytes: undefined };

  /** Parses as many complete events as `chunk` completes. */
  push(chunk: Uint8Array): SseEvent[] {
    const decoded = this.decoder.write(chunk as Buffer);
    let text = this.buffer + decoded;
    // Character for byte: nothing carried over, and every character one byte (ASCII).
    const ownBytes = this.buffer.length === 0 && decoded.length === chunk.length && Buffer.byteLength(decoded) === chunk.length;
    if (text.includes("\r")) {
      // A trailing CR may be the first half of a CRLF split across reads: keep it for the next read.
      const trailingCr = text.endsWith("\r");
      text = (trailingCr ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n") + (trailingCr ? "\r" : "");
    }
    // The decoded text is the chunk character for byte only if it is all ASCII and unchanged.
    this.source = { text, bytes: ownBytes && text.length === chunk.length ? chunk : undefined };
    const events: SseEvent[] = [];
    let cursor = 0;
    for (;;) {
      const end = text.indexOf("\n\n", cursor);
      if (end < 0) break;
      // The usual block is one `data: ` line: no slice of the block, no line walk.
      if (text.startsWith("data: ", cursor) && text.indexOf("\n", cursor) === end) {
        events.push({ event: undefined, data: text.slice(cursor + 6, end), start: cursor, end: end + 2 });
      } else {
        const event = parseBlock(text.slice(cursor, end));
        if (event) events.push(event);
      }
      cursor = end + 2;
    }
    this.buffer = cursor === 0 ? text : text.slice(cursor);
    return events;
  }

  /** The stream ended: a final event without its blank line still counts. */
  end(): SseEvent[] {
    const rest = (this.buffer + this.decoder.end()).replace(/\r\n?/g, "\n");
    this.buffer = "";
    const event = rest.trim() ? parseBlock(rest) : undefined;
    return event ? [event] : [];
  }
}

function parseBlock(block: string): SseEvent | undefined {
  // The usual block: one `data: ` line (every OpenAI chunk).
  if (block.startsWith("data: ") && block.indexOf("\n") < 0) return { event: undefined, data: block.slice(6) };
  let event: string | undefined;
  let data: string | undefined;
  let start = 0;
  while (start <= block.length) {
    let end = block.indexOf("\n", start);
    if (end < 0) end = block.length;
    if (end > start && block.charCodeAt(start) !== 58 /* ':' comment */) {
      const colon = block.indexOf(":", start);
      const hasValue = colon >= 0 && colon < end;
      const field = hasValue ? block.slice(start, colon) : block.slice(start, end);
      let valueStart = hasValue ? colon + 1 : end;
      if (block.charCodeAt(valueStart) === 32) valueStart++;
      const value = valueStart < end ? block.slice(valueStart, end) : "";
      if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
      else if (field === "event") event = value;
    }
    start = end + 1;
  }
  if (data === undefined && event === undefined) return undefined;
  return { event, data: data ?? "" };
}

/** Serialises one event. */
export function sseEvent(data: string, event?: string): string {
  return event ? `event: ${event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}
