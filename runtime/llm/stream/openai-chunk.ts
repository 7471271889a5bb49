/**
 * Recognising OpenAI chat.completion.chunk events without parsing them. Nearly every event of a stream is a
 * content-only chunk that repeats the same id, model and choice index around a different `delta.content`:
 * the shape is learned from the first such chunk (parsed), and later events with the same text around
 * their content literal are read by slicing.
 */
import type { Json } from "../../http/json.js";

/**
 * The shape of one content-only chunk of a stream, learned from the first such chunk: everything before
 * and after the `delta.content` string literal. Later chunks with the same prefix and suffix (same id,
 * model, choice index; OpenAI repeats them in every chunk) are recognised without `JSON.parse`.
 */
export interface ContentSlot {
  readonly index: number;
  /** Up to and including the opening quote of the content literal. */
  readonly prefix: string;
  /** From the closing quote of the content literal on. */
  readonly suffix: string;
}

/** Characters that make a content literal need real JSON decoding (or rule out the fast path). */
const JSON_SPECIAL = /["\\\u0000-\u001f]/;

/** The decoded content when `text` from `start` to `end` (an event's data) is `slot` with a string literal in it, else undefined. */
export function matchSlot(slot: ContentSlot, text: string, start: number, end: number): string | undefined {
  const { prefix, suffix } = slot;
  // Slices compared with ===, not startsWith at a position: V8 compares flat slices with memcmp, startsWith character by character.
  if (
    end - start <= prefix.length + suffix.length ||
    text.slice(start, start + prefix.length) !== prefix ||
    text.slice(end - suffix.length, end) !== suffix
  )
    return undefined;
  const inner = text.slice(start + prefix.length, end - suffix.length);
  if (!JSON_SPECIAL.test(inner)) return inner;
  // An unescaped quote could end the literal early and add members: only plain escapes take this path.
  if (inner.includes('"')) return undefined;
  try {
    const decoded: unknown = JSON.parse(`"${inner}"`);
    return typeof decoded === "string" && decoded.length > 0 ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Learns the slot of a parsed content-only chunk (one choice, `delta` = `{content}`): the literal must
 * occur once, and the text with another string in the slot must parse to a content-only chunk with that
 * string as its content. Everything outside the slot is the same text as the parsed chunk, so the slot
 * is exactly `choices[0].delta.content`.
 */
export function learnSlot(data: string, index: number, content: string): ContentSlot | undefined {
  if (content.length === 0) return undefined;
  const needle = `"content":${JSON.stringify(content)}`;
  const at = data.indexOf(needle);
  if (at < 0 || data.indexOf(needle, at + 1) >= 0) return undefined;
  const slot = { index, prefix: data.slice(0, at + 11), suffix: data.slice(at + needle.length - 1) };
  const marker = content === "\u0001" ? "\u0002" : "\u0001";
  try {
    const probe = JSON.parse(`${slot.prefix}${JSON.stringify(marker).slice(1, -1)}${slot.suffix}`) as Json;
    const choices = probe.choices as Json[] | undefined;
    const delta = choices?.[0]?.delta as Json | undefined;
    return Array.isArray(choices) &&
      choices.length === 1 &&
      delta?.content === marker &&
      Object.keys(delta).length === 1
      ? slot
      : undefined;
  } catch {
    return undefined;
  }
}

/** A chunk's members other than `choices` and `usage`: what a rebuilt chunk repeats. */
export function chunkBase(chunk: Json | undefined): Json {
  if (!chunk) return {};
  const { choices: _choices, usage: _usage, ...base } = chunk;
  return base;
}
