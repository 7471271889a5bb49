/**
 * Texts found clean by a scrubber or a guard, remembered by their exact text: the audit scrubber
 * (`runtime/observability/scrub.ts`) keeps the subjects, client ids and model names that recur on every
 * line; the LLM request guard keeps the clean messages agents resend every turn. Only clean texts are
 * kept, so it never holds a credential or anything a guard rewrote. The guards remember their other
 * verdicts in `VerdictCache` (./verdict-cache.ts), keyed by content hash, not here.
 *
 * Looked up by a short key (the length and a few characters from each end) and then compared whole with
 * `===`: a `Set` of the texts themselves would hash every character of a text it is asked about (V8 does
 * not keep a hash for a freshly parsed string), which on a 4-16 KB message costs several times the
 * comparison. A text is known only when it is equal to a remembered one, character for character.
 *
 * Bounded in entries, in the length of one text, and in the characters of all texts together; the
 * oldest texts go first.
 */

/** Texts up to this length are their own key. */
const SHORT_TEXT = 48;
/** Characters taken from each end of a longer text for its key. */
const KEY_END_CHARS = 16;
/**
 * Texts kept under one key at most: texts that differ only in their middle share a key, and a lookup
 * compares against each of them, so a client cannot make one lookup compare against many.
 */
const MAX_PER_KEY = 4;

const keyOf = (text: string): string =>
  text.length <= SHORT_TEXT
    ? text
    : `${text.length}\u0000${text.slice(0, KEY_END_CHARS)}\u0000${text.slice(-KEY_END_CHARS)}`;

export class CleanTextCache {
  /** By key: the text, or the texts when several share the key. */
  private readonly texts = new Map<string, string | string[]>();
  private entries = 0;
  private chars = 0;

  constructor(
    private readonly maxEntries = 2048,
    private readonly maxChars = 4096,
    private readonly maxTotalChars = maxEntries * maxChars,
  ) {}

  has(text: string): boolean {
    if (text.length > this.maxChars) return false;
    const known = this.texts.get(keyOf(text));
    if (known === undefined) return false;
    return typeof known === "string" ? known === text : known.includes(text);
  }

  add(text: string): void {
    if (text.length > this.maxChars || this.has(text)) return;
    for (const [oldestKey, oldest] of this.texts) {
      if (this.entries < this.maxEntries && this.chars + text.length <= this.maxTotalChars) break;
      this.texts.delete(oldestKey);
      for (const gone of typeof oldest === "string" ? [oldest] : oldest) {
        this.entries--;
        this.chars -= gone.length;
      }
    }
    const key = keyOf(text);
    const known = this.texts.get(key);
    if (known === undefined) this.texts.set(key, text);
    else if (typeof known === "string") this.texts.set(key, [known, text]);
    else if (known.length < MAX_PER_KEY) known.push(text);
    else return;
    this.entries++;
    this.chars += text.length;
  }
}
