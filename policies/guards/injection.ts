/**
 * Prompt-injection detection on user and tool content: the patterns of `@andersmyrmel/vard` (heuristic,
 * ReDoS-tested patterns for instruction override, role manipulation, delimiter injection, system-prompt
 * leak and encoding tricks; ./injection-patterns.ts) plus the named jailbreak families it misses, deciding
 * exactly as vard does with the same configuration. `DAN` is matched only as an upper-case word in a
 * jailbreak context, so "dangerous" or the name "Dan" never trigger it.
 *
 * Compiled once per sensitivity: only the patterns that can count (a counted threat type, a severity at
 * or above the threshold) are kept, and one alternation of all of them answers "could anything match?"
 * in a single pass, so text without a suspicious phrase (nearly all of it) never runs the patterns one by
 * one.
 */
import type { Pattern, ThreatType } from "@andersmyrmel/vard";
import type { GuardMode, GuardPolicy } from "../bundle/index.js";
import { VARD_PATTERNS } from "./injection-patterns.js";
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

interface InjectionDetector {
  /** The patterns that count at this sensitivity, global, in vard's order then the jailbreak families. */
  readonly patterns: readonly { readonly regex: RegExp; readonly type: ThreatType }[];
  /** Matches where any of `patterns` would (possibly more: flags are widened, never narrowed). */
  readonly mayMatch: RegExp | undefined;
}

const DETECTORS = new Map<InjectionSensitivity, InjectionDetector>();

/** The detector of one sensitivity, compiled on first use and shared by every policy that uses it. */
function detectorFor(sensitivity: InjectionSensitivity): InjectionDetector {
  const known = DETECTORS.get(sensitivity);
  if (known) return known;
  const counted = new Set(COUNTED[sensitivity]);
  const kept = [...VARD_PATTERNS, ...JAILBREAK_FAMILY_PATTERNS].filter(
    (p) => counted.has(p.type) && p.severity >= THRESHOLD[sensitivity],
  );
  const patterns = kept.map((p) => ({
    regex: new RegExp(p.regex.source, p.regex.flags.includes("g") ? p.regex.flags : `${p.regex.flags}g`),
    type: p.type,
  }));
  const detector = { patterns, mayMatch: anyOf(kept.map((p) => p.regex)) };
  DETECTORS.set(sensitivity, detector);
  return detector;
}

/**
 * One regex that matches wherever any of `regexes` would (possibly more), or `undefined` when they cannot
 * be combined. The flags i and m only widen a pattern without them (s too, added when any pattern needs
 * it); u, v or y would change how a pattern parses or where it may match. The patterns that start with
 * `\b` and have no top-level `|` share one leading `\b`, which lets the engine test it once per position
 * instead of once per pattern.
 */
function anyOf(regexes: readonly RegExp[]): RegExp | undefined {
  if (regexes.some((r) => /[uvy]/.test(r.flags))) return undefined;
  const afterBoundary: string[] = [];
  const others: string[] = [];
  for (const { source } of regexes) {
    if (source.startsWith("\\b") && !hasTopLevelAlternation(source)) afterBoundary.push(`(?:${source.slice(2)})`);
    else others.push(`(?:${source})`);
  }
  const alternatives = afterBoundary.length > 0 ? [`\\b(?:${afterBoundary.join("|")})`, ...others] : others;
  return new RegExp(alternatives.join("|"), regexes.some((r) => r.flags.includes("s")) ? "ims" : "im");
}

/** Whether `source` has a `|` outside every group and character class. */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}

/** Every match of every counted pattern, in pattern order (what vard reports as its blocking threats). */
function findInjections(detector: InjectionDetector, text: string): Finding[] {
  if (detector.mayMatch && !detector.mayMatch.test(text)) return [];
  if (text.trim() === "") return [];
  const findings: Finding[] = [];
  for (const { regex, type } of detector.patterns) {
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match; match = regex.exec(text)) {
      findings.push({ kind: type, start: match.index, end: match.index + match[0].length });
      if (match[0].length === 0) regex.lastIndex++;
    }
  }
  return findings;
}

export function compileInjectionGuard(config: NonNullable<GuardPolicy["promptInjection"]>): InjectionGuard {
  const detector = detectorFor(config.sensitivity);
  const find = (text: string): Finding[] => findInjections(detector, text);

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
