/**
 * The text stream of one choice of an OpenAI stream, between the upstream and the credential scanner:
 * the events whose content the scanner has not released yet, and how released text goes back out, as the
 * upstream's own events when it is unchanged and whole, re-wrapped otherwise.
 */
import type {
  ReleaseBoundaries,
  StreamScanResult,
  StreamingCredentialScanner,
} from "../../../policies/guards/index.js";
import type { Json } from "../../http/json.js";
import type { MaybePromise } from "../../http/stage.js";
import { type ContentSlot, chunkBase } from "./openai-chunk.js";
import type { Output } from "./output.js";
import type { SseEvent, SseSource } from "./sse.js";

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
export class ChoiceText implements ReleaseBoundaries {
  readonly held: HeldContent[] = [];
  /** Characters in `held` not sent yet (the scanner holds the tail of them). */
  heldChars = 0;
  /** Text queued since the last scan. */
  unscanned = "";
  constructor(readonly scanner: StreamingCredentialScanner) {}

  /**
   * Adds the content of a chunk parsed as a whole: `event` when the content is the chunk's only member
   * (sent as is when released whole), undefined when it came next to other members (always re-wrapped).
   * `base` is the parsed chunk, whose other members a re-wrapped event repeats.
   */
  add(content: string, event: SseEvent | undefined, source: SseSource, base: Json, index: number): void {
    const spanned = event?.start !== undefined && event.end !== undefined;
    this.held.push({
      content,
      raw: event?.data,
      source: spanned ? source : undefined,
      start: event?.start ?? 0,
      end: event?.end ?? 0,
      slot: undefined,
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
  push(text: string): MaybePromise<StreamScanResult> {
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
