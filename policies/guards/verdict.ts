/**
 * What a guard decided about a piece of text. Shaped like the runtime's `GuardOutcome<string>` so the
 * runtime can return it as is. `guard` names the rule (`guard: pii`), never the matched text.
 */
export type TextVerdict =
  | {
      readonly action: "allow";
      readonly value: string;
      readonly redactions?: Readonly<Record<string, number>>;
      readonly flagged?: readonly string[];
    }
  | { readonly action: "block"; readonly guard: GuardName; readonly message: string };

/** The guard packs, as named in errors and audit events. */
export type GuardName = "pii" | "prompt-injection" | "credential-leak";

/** A span of text a detector matched. `kind` names the detector (e.g. `ssn`, `openai-api-key`). */
export interface Finding {
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

/** The standard block verdict: says which guard refused, never what matched. */
export function blockVerdict(guard: GuardName, what: string): TextVerdict {
  return { action: "block", guard, message: `guard: ${guard} — ${what}` };
}

/**
 * Replaces findings with `[REDACTED:<kind>]`. Overlapping findings are resolved in favour of the one that
 * starts first (the longer one on a tie). Returns the new text and counts per kind.
 */
export function redactFindings(
  text: string,
  findings: readonly Finding[],
): { text: string; counts: Record<string, number> } {
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  const counts: Record<string, number> = {};
  let out = "";
  let cursor = 0;
  for (const finding of sorted) {
    if (finding.start < cursor) continue;
    out += text.slice(cursor, finding.start) + `[REDACTED:${finding.kind}]`;
    cursor = finding.end;
    counts[finding.kind] = (counts[finding.kind] ?? 0) + 1;
  }
  return { text: out + text.slice(cursor), counts };
}
