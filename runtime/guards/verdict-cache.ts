/**
 * What the guards decided about texts already scanned, so a text is scanned once, not once per request:
 * agents resend their whole history every turn, and most histories hold something a guard rewrites.
 * Clean, rewritten and refused texts are all remembered.
 *
 * Safe to hold: an entry is keyed by the SHA-256 of the text (never the text) and the scope it was
 * scanned for (the content source, or the tool-call side), and holds only the decision: the counts, the
 * flags, the refusal message (which names the guard, never what matched) and, when the guards rewrote
 * the text, the rewrite (already redacted). A verdict that left the text as it was stores no text at
 * all; the caller's own text is the value on a hit. One cache belongs to one compiled guard policy (its
 * digest is part of every key), and a bundle reload builds new guards with new caches.
 *
 * Bounded in entries and in (estimated) bytes; the least recently used entry goes first.
 *
 * The key costs one SHA-256 pass over the text: less than a scan of the full chain from a few dozen
 * characters on (`minTextChars`; shorter texts are simply scanned), but more than the one-pass prefilters,
 * so the LLM request guard first asks the policy whether one pass proves the text clean
 * (`requestTextIsPlainlyClean`) and only hashes the rest.
 */
import { hash } from "node:crypto";
import type { TextVerdict } from "../../policies/guards/index.js";

export interface VerdictCacheLimits {
  /** Entries kept at most. */
  readonly maxEntries: number;
  /** Estimated bytes of all entries together (keys, rewrites, messages, bookkeeping). */
  readonly maxBytes: number;
  /**
   * Texts shorter than this are scanned every time, never hashed nor kept: below it a scan of the full
   * chain costs about what the key does.
   * @default 32
   */
  readonly minTextChars?: number;
}

/** A remembered decision: a verdict without the scanned text. */
type Remembered =
  | {
      readonly action: "allow";
      /** The rewrite, when the guards changed the text; absent when the value is the text itself. */
      readonly rewrite: string | undefined;
      readonly redactions?: Readonly<Record<string, number>>;
      readonly flagged?: readonly string[];
      readonly bytes: number;
    }
  | {
      readonly action: "block";
      readonly guard: Extract<TextVerdict, { action: "block" }>["guard"];
      readonly message: string;
      readonly bytes: number;
    };

/** Bookkeeping per entry beyond its strings: the map slot, the entry object, the counts. */
const ENTRY_OVERHEAD_BYTES = 160;

export class VerdictCache {
  private readonly entries = new Map<string, Remembered>();
  private readonly keyPrefix: string;
  private readonly minTextChars: number;
  private bytes = 0;

  /**
   * @param policyDigest identity of the compiled policy whose verdicts this cache holds (part of every key)
   */
  constructor(
    policyDigest: string,
    private readonly limits: VerdictCacheLimits,
  ) {
    // Enough of the digest to tell policies apart, short enough not to double the size of every key.
    this.keyPrefix = `${policyDigest.replace(/^sha256:/, "").slice(0, 16)}|`;
    this.minTextChars = limits.minTextChars ?? 32;
    if (!(limits.maxEntries >= 1 && limits.maxBytes >= ENTRY_OVERHEAD_BYTES))
      throw new Error(
        `VerdictCache limits: expected maxEntries >= 1 and maxBytes >= ${ENTRY_OVERHEAD_BYTES}, got ${limits.maxEntries}/${limits.maxBytes}`,
      );
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes held. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * The verdict for `text` scanned for `scope`: remembered, or from `scan` (then remembered). Synchronous
   * when `scan` is; a rejected scan is not remembered.
   */
  verdict<R extends TextVerdict | Promise<TextVerdict>>(
    scope: string,
    text: string,
    scan: (text: string) => R,
  ): TextVerdict | R {
    if (text.length < this.minTextChars) return scan(text);
    const key = this.keyOf(scope, text);
    const known = this.get(key, text);
    if (known) return known;
    const fresh = scan(text);
    if (fresh instanceof Promise)
      return fresh.then((verdict) => {
        this.set(key, text, verdict);
        return verdict;
      }) as R;
    this.set(key, text, fresh as TextVerdict);
    return fresh;
  }

  private keyOf(scope: string, text: string): string {
    return `${this.keyPrefix}${scope}|${hash("sha256", text, "base64")}`;
  }

  private get(key: string, text: string): TextVerdict | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (entry.action === "block") return { action: "block", guard: entry.guard, message: entry.message };
    return {
      action: "allow",
      value: entry.rewrite ?? text,
      ...(entry.redactions ? { redactions: entry.redactions } : {}),
      ...(entry.flagged ? { flagged: entry.flagged } : {}),
    };
  }

  private set(key: string, text: string, verdict: TextVerdict): void {
    const entry = remember(key, text, verdict);
    if (entry.bytes > this.limits.maxBytes / 8) return;
    const previous = this.entries.get(key);
    if (previous) {
      this.entries.delete(key);
      this.bytes -= previous.bytes;
    }
    for (const [oldestKey, oldest] of this.entries) {
      if (this.entries.size < this.limits.maxEntries && this.bytes + entry.bytes <= this.limits.maxBytes) break;
      this.entries.delete(oldestKey);
      this.bytes -= oldest.bytes;
    }
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
  }
}

function remember(key: string, text: string, verdict: TextVerdict): Remembered {
  const keyBytes = key.length * 2;
  if (verdict.action === "block")
    return {
      action: "block",
      guard: verdict.guard,
      message: verdict.message,
      bytes: ENTRY_OVERHEAD_BYTES + keyBytes + verdict.message.length * 2,
    };
  const rewrite = verdict.value === text ? undefined : verdict.value;
  return {
    action: "allow",
    rewrite,
    ...(verdict.redactions ? { redactions: verdict.redactions } : {}),
    ...(verdict.flagged ? { flagged: verdict.flagged } : {}),
    bytes: ENTRY_OVERHEAD_BYTES + keyBytes + (rewrite?.length ?? 0) * 2,
  };
}
