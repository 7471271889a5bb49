/**
 * Texts the guards found clean (allowed, unchanged, nothing flagged or redacted), remembered by their
 * exact text so a text seen clean before skips the guards: agents resend their whole history every turn,
 * tools return the same status lines. Only clean texts are kept, so the cache never holds a credential or
 * PII; a text that was redacted or refused is scanned again every time.
 *
 * Bounded in entries, in the length of one text, and in the characters of all texts together; the
 * oldest texts go first.
 */
import type { TextVerdict } from "../../policies/guards/index.js";

/** Whether the guards left `text` as it was: allowed, unchanged, nothing redacted or flagged. */
export function isCleanVerdict(text: string, verdict: TextVerdict): boolean {
  return verdict.action === "allow" && verdict.value === text && !verdict.redactions && !verdict.flagged;
}

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
