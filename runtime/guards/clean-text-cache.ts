/**
 * Short texts found clean by a scrubber, remembered by their exact text: the audit scrubber
 * (`runtime/observability/scrub.ts`) keeps the subjects, client ids and model names that recur on every
 * line. Only clean texts are kept, so it never holds a credential. The guards remember their verdicts in
 * `VerdictCache` (./verdict-cache.ts), keyed by content hash, not here.
 *
 * Bounded in entries, in the length of one text, and in the characters of all texts together; the
 * oldest texts go first.
 */
export class CleanTextCache {
  private readonly texts = new Set<string>();
  private chars = 0;

  constructor(
    private readonly maxEntries = 2048,
    private readonly maxChars = 4096,
    private readonly maxTotalChars = maxEntries * maxChars,
  ) {}

  has(text: string): boolean {
    return text.length <= this.maxChars && this.texts.has(text);
  }

  add(text: string): void {
    if (text.length > this.maxChars || this.texts.has(text)) return;
    for (const oldest of this.texts) {
      if (this.texts.size < this.maxEntries && this.chars + text.length <= this.maxTotalChars) break;
      this.texts.delete(oldest);
      this.chars -= oldest.length;
    }
    this.texts.add(text);
    this.chars += text.length;
  }
}
