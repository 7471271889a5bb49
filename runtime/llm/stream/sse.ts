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
  private readonly decoder = new StringDecoder("utf8");
  /** The text the last `feed` parsed (event spans refer to it). */
  source: SseSource = { text: "", bytes: undefined };
  /** Where the next event starts in `source.text`; what follows the last complete event is carried into the next feed. */
  private cursor = 0;
  /** The current event's block, blank line included: `source.text` from `blockStart` to `blockEnd`. */
  blockStart = 0;
  blockEnd = 0;
  /** The current block is one `data: ` line (every OpenAI chunk): its data is `source.text` from `dataStart` to `dataEnd`. */
  simple = false;
  dataStart = 0;
  dataEnd = 0;

  /**
   * Takes the next chunk. Then `next()` moves through the events it completes, without an object or a
   * string per event: the relay materialises (`event()`) only the events it does not recognise in place.
   */
  feed(chunk: Uint8Array): void {
    const previous = this.source.text;
    const carried = this.cursor < previous.length ? previous.slice(this.cursor) : "";
    const decoded = this.decoder.write(chunk as Buffer);
    let text = carried + decoded;
    // Character for byte: nothing carried over, and every character one byte (ASCII).
    const ownBytes =
      carried.length === 0 && decoded.length === chunk.length && Buffer.byteLength(decoded) === chunk.length;
    if (text.includes("\r")) {
      // A trailing CR may be the first half of a CRLF split across reads: keep it for the next read.
      const trailingCr = text.endsWith("\r");
      text = (trailingCr ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n") + (trailingCr ? "\r" : "");
    }
    // The decoded text is the chunk character for byte only if it is all ASCII and unchanged.
    this.source = { text, bytes: ownBytes && text.length === chunk.length ? chunk : undefined };
    this.cursor = 0;
  }

  /** Moves to the next complete event of the fed text; false when there is none. */
  next(): boolean {
    const text = this.source.text;
    const start = this.cursor;
    const end = text.indexOf("\n\n", start);
    if (end < 0) return false;
    this.blockStart = start;
    this.blockEnd = end + 2;
    this.cursor = end + 2;
    this.simple = text.startsWith("data: ", start) && text.indexOf("\n", start) === end;
    this.dataStart = start + 6;
    this.dataEnd = end;
    return true;
  }

  /** The current event as an object (`undefined` for a block without data or event, e.g. a comment). */
  event(): SseEvent | undefined {
    const text = this.source.text;
    if (this.simple)
      return {
        event: undefined,
        data: text.slice(this.dataStart, this.dataEnd),
        start: this.blockStart,
        end: this.blockEnd,
      };
    return parseBlock(text.slice(this.blockStart, this.blockEnd - 2));
  }

  /** Parses as many complete events as `chunk` completes. */
  push(chunk: Uint8Array): SseEvent[] {
    this.feed(chunk);
    const events: SseEvent[] = [];
    while (this.next()) {
      const event = this.event();
      if (event) events.push(event);
    }
    return events;
  }

  /** The stream ended: a final event without its blank line still counts. */
  end(): SseEvent[] {
    const carried = this.source.text.slice(this.cursor);
    const rest = (carried + this.decoder.end()).replace(/\r\n?/g, "\n");
    this.source = { text: "", bytes: undefined };
    this.cursor = 0;
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
