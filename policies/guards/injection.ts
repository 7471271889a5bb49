/**
 * Prompt-injection detection on user and tool content. Builds on `@andersmyrmel/vard` (heuristic,
 * ReDoS-tested patterns for instruction override, role manipulation, delimiter injection, system-prompt
 * leak and encoding tricks) and adds the named jailbreak families it misses. `DAN` is matched only as an
 * upper-case word in a jailbreak context, so "dangerous" or the name "Dan" never trigger it.
 */
import vard, { type Pattern, type ThreatType } from "@andersmyrmel/vard";
import type { GuardMode, GuardPolicy } from "../bundle/index.js";
import { type Finding, type TextVerdict, blockVerdict, redactFindings } from "./verdict.js";

export type InjectionSensitivity = "strict" | "moderate" | "lenient";

/** Known jailbreak families vard does not name. Bounded quantifiers only. */
export const JAILBREAK_FAMILY_PATTERNS: readonly Pattern[] = [
  {
    regex: /\bDAN\b(?=[^\n]{0,80}\b(?:do anything now|jailbreak|no (?:rules|restrictions|limits)|mode)\b)/,
    severity: 0.95,
    type: "roleManipulation",
  },
  { regex: /\b(?:you are|you're|act as|become|now)\s{1,3}DAN\b/, severity: 0.95, type: "roleManipulation" },
  { regex: /\bdo anything now\b/i, severity: 0.9, type: "roleManipulation" },
  { regex: /\bdeveloper mode\s{1,3}(?:enabled|activated|on)\b/i, severity: 0.9, type: "roleManipulation" },
  {
    regex: /\b(?:jailbreak|jailbroken)\b[^\n]{0,40}\b(?:enabled|activated|mode|prompt)\b/i,
    severity: 0.9,
    type: "roleManipulation",
  },
  {
    regex:
      /\b(?:disregard|forget|override)\s{1,3}(?:all\s{1,3})?(?:your|the|previous|prior|above)\s{1,3}(?:instructions|rules|guidelines|system prompt)\b/i,
    severity: 0.9,
    type: "instructionOverride",
  },
];

/** Threat types that count, per sensitivity. Encoding heuristics only in strict: base64 is common in tool output. */
const COUNTED: Readonly<Record<InjectionSensitivity, readonly ThreatType[]>> = {
  strict: ["instructionOverride", "roleManipulation", "delimiterInjection", "systemPromptLeak", "encoding"],
  moderate: ["instructionOverride", "roleManipulation", "delimiterInjection", "systemPromptLeak"],
  lenient: ["instructionOverride", "systemPromptLeak"],
};
const THRESHOLD: Readonly<Record<InjectionSensitivity, number>> = { strict: 0.5, moderate: 0.7, lenient: 0.85 };

export interface InjectionGuard {
  readonly mode: GuardMode;
  /** Spans that look like an injection attempt (kind = vard threat type). */
  find(text: string): Finding[];
  /** block → block verdict; mask → the matched phrases removed; log → unchanged, flagged. */
  apply(text: string): TextVerdict;
}

export function compileInjectionGuard(config: NonNullable<GuardPolicy["promptInjection"]>): InjectionGuard {
  const counted = new Set(COUNTED[config.sensitivity]);
  let detector = vard()
    .threshold(THRESHOLD[config.sensitivity])
    .maxLength(Number.MAX_SAFE_INTEGER)
    .patterns([...JAILBREAK_FAMILY_PATTERNS]);
  for (const type of COUNTED.strict) detector = counted.has(type) ? detector.block(type) : detector.allow(type);

  const find = (text: string): Finding[] => {
    const result = detector.safeParse(text);
    if (result.safe) return [];
    return result.threats
      .filter((t) => counted.has(t.type))
      .map((t) => ({ kind: t.type, start: t.position, end: t.position + t.match.length }));
  };

  return {
    mode: config.mode,
    find,
    apply(text) {
      const findings = find(text);
      if (findings.length === 0) return { action: "allow", value: text };
      if (config.mode === "block")
        return blockVerdict("prompt-injection", "the content looks like a prompt-injection attempt");
      if (config.mode === "mask") {
        const { counts } = redactFindings(text, findings);
        const cleaned = removeSpans(text, findings);
        return { action: "allow", value: cleaned, redactions: prefixKeys(counts, "prompt-injection:") };
      }
      return { action: "allow", value: text, flagged: ["prompt-injection"] };
    },
  };
}

function removeSpans(text: string, findings: readonly Finding[]): string {
  const sorted = [...findings].sort((a, b) => a.start - b.start);
  let out = "";
  let cursor = 0;
  for (const f of sorted) {
    if (f.start < cursor) {
      cursor = Math.max(cursor, f.end);
      continue;
    }
    out += text.slice(cursor, f.start) + "[REMOVED:prompt-injection]";
    cursor = f.end;
  }
  return out + text.slice(cursor);
}

function prefixKeys(counts: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [`${prefix}${k}`, v]));
}
