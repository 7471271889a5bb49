/**
 * Byte offsets in a chat body's JSON without parsing it: where each element of the top-level `messages` array
 * ends. ./request-history.ts compares a request's bytes with the last one's at those offsets, so a resent
 * history is recognized by a memory comparison instead of a parse. Only the structure is read: strings are
 * skipped to their closing quote, values are not checked (JSON.parse still parses every byte the gateway
 * uses, and anything it would refuse is refused).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const isSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

function skipSpace(raw: Buffer, at: number): number {
  while (isSpace(raw[at])) at++;
  return at;
}

/** The offset after the string whose opening quote is at `at`, or -1 when it does not close. */
function skipString(raw: Buffer, at: number): number {
  let quote = at;
  for (;;) {
    quote = raw.indexOf(QUOTE, quote + 1);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (raw[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
}

/** The offset after the value starting at `at` (after spaces), or -1 when it does not end in `raw`. */
function skipValue(raw: Buffer, at: number): number {
  const first = raw[at];
  if (first === QUOTE) return skipString(raw, at);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    // A number or literal: up to the next delimiter.
    let end = at;
    while (end < raw.length) {
      const byte = raw[end];
      if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || isSpace(byte)) break;
      end++;
    }
    return end > at ? end : -1;
  }
  let depth = 0;
  for (let i = at; i < raw.length; i++) {
    const byte = raw[i];
    if (byte === QUOTE) {
      i = skipString(raw, i) - 1;
      if (i < 0) return -1;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Where the elements of an array end, from just after an element (`at`) up to the array's `]`. */
export interface ArrayTail {
  /** The offset after each further element. */
  readonly ends: number[];
  /** The offset of the closing `]`. */
  readonly close: number;
}

/**
 * The rest of an array whose elements so far end at `at`: each further element's end and the closing bracket.
 * Undefined when the bytes are not `(, value)* ]` (the caller then parses the whole body, which reports why).
 */
export function scanArrayTail(raw: Buffer, at: number): ArrayTail | undefined {
  const ends: number[] = [];
  for (;;) {
    at = skipSpace(raw, at);
    if (raw[at] === CLOSE_BRACKET) return { ends, close: at };
    if (raw[at] !== COMMA) return undefined;
    const end = skipValue(raw, skipSpace(raw, at + 1));
    if (end < 0) return undefined;
    ends.push(end);
    at = end;
  }
}

/** Where a body's `messages` elements end, and where the array closes. */
export interface MessagesLayout extends ArrayTail {}

/**
 * Where each element of the body's top-level `messages` array ends, and its closing bracket. Undefined when the
 * body is not an object with a `messages` member holding a non-empty array, or when a key repeats or is written
 * with an escape (which could spell a key twice): such bodies are left to the full parse.
 */
export function scanMessagesLayout(raw: Buffer): MessagesLayout | undefined {
  let at = skipSpace(raw, 0);
  if (raw[at] !== OPEN_BRACE) return undefined;
  at = skipSpace(raw, at + 1);
  const keys = new Set<string>();
  let found: MessagesLayout | undefined;
  for (;;) {
    if (raw[at] !== QUOTE) return undefined;
    const keyEnd = skipString(raw, at);
    if (keyEnd < 0) return undefined;
    const key = raw.toString("latin1", at + 1, keyEnd - 1);
    if (key.includes("\\") || keys.has(key)) return undefined;
    keys.add(key);
    at = skipSpace(raw, keyEnd);
    if (raw[at] !== COLON) return undefined;
    at = skipSpace(raw, at + 1);
    if (key === "messages") {
      if (raw[at] !== OPEN_BRACKET) return undefined;
      const end = skipValue(raw, skipSpace(raw, at + 1));
      if (end < 0) return undefined;
      const tail = scanArrayTail(raw, end);
      if (!tail) return undefined;
      found = { ends: [end, ...tail.ends], close: tail.close };
      at = tail.close + 1;
    } else {
      at = skipValue(raw, at);
      if (at < 0) return undefined;
    }
    at = skipSpace(raw, at);
    if (raw[at] === CLOSE_BRACE) return found;
    if (raw[at] !== COMMA) return undefined;
    at = skipSpace(raw, at + 1);
  }
}
