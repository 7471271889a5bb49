/**
 * Incremental Server-Sent Events parsing (WHATWG rules for `event:` and `data:` lines), fed with
 * arbitrary byte chunks. Only what LLM streams use: event name and (multi-line) data.
 */
export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
}

export class SseParser {
  private buffer = "";
  private readonly decoder = new TextDecoder();

  /** Parses as many complete events as `chunk` completes. */
  push(chunk: Uint8Array): SseEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
      if (!match) break;
      const block = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = parseBlock(block);
      if (event) events.push(event);
    }
    return events;
  }

  /** The stream ended: a final event without its blank line still counts. */
  end(): SseEvent[] {
    const rest = this.buffer + this.decoder.decode();
    this.buffer = "";
    const event = rest.trim() ? parseBlock(rest) : undefined;
    return event ? [event] : [];
  }
}

function parseBlock(block: string): SseEvent | undefined {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0 && event === undefined) return undefined;
  return { event, data: data.join("\n") };
}

/** Serialises one event. */
export function sseEvent(data: string, event?: string): string {
  return event ? `event: ${event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}
