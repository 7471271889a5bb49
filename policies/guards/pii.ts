/**
 * PII detection and redaction for prompts before they leave the gateway: e-mail addresses, phone
 * numbers, US social security numbers, payment cards (Luhn-checked, so order numbers pass) and IP
 * addresses, plus the policy's extra patterns. Everything is compiled once per policy.
 */
import type { GuardMode, GuardPolicy } from "../bundle/index.js";
import { type Finding, type TextVerdict, blockVerdict, redactFindings } from "./verdict.js";

export type PiiDetectorName = "email" | "phone" | "ssn" | "payment-card" | "ip-address";

interface Detector {
  readonly kind: string;
  readonly pattern: RegExp;
  /** Extra check on a match (e.g. Luhn); a match failing it is not PII. */
  readonly accept?: (match: string) => boolean;
}

const BUILT_IN: Readonly<Record<PiiDetectorName, Detector>> = {
  email: {
    kind: "email",
    pattern: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b/g,
  },
  // Dashed or spaced, excluding numbers the SSA never issues (000, 666, 9xx areas; 00 group; 0000 serial).
  ssn: { kind: "ssn", pattern: /\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b/g },
  "payment-card": {
    kind: "payment-card",
    pattern: /\b\d(?:[ -]?\d){12,18}\b/g,
    accept: (m) => luhnValid(m.replace(/[ -]/g, "")),
  },
  // North-American numbers with separators, and international numbers written with a leading +.
  phone: {
    kind: "phone",
    pattern:
      /(?<![\w+])(?:\+?1[-. ])?(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}\b|(?<![\w+])\+\d{1,3}(?:[-. ]?\d{1,4}){2,5}\b/g,
    accept: (m) => m.replace(/\D/g, "").length >= 10,
  },
  "ip-address": {
    kind: "ip-address",
    pattern:
      /\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}:){0,5}[0-9a-fA-F]{1,4}(?![\w:])/g,
  },
};

/** Order matters for overlaps: an SSN or card wins over the phone number hidden in its digits. */
const DETECTOR_ORDER: readonly PiiDetectorName[] = ["email", "ssn", "payment-card", "phone", "ip-address"];

/** True when `digits` passes the Luhn checksum and has a card's length. */
export function luhnValid(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19 || !/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** A compiled PII guard for one policy. */
export interface PiiGuard {
  readonly mode: GuardMode;
  /** Every PII span in `text`. */
  find(text: string): Finding[];
  /** Applies the policy mode: mask → redacted text and counts; block → block verdict; log → unchanged text with counts. */
  apply(text: string): TextVerdict;
}

/** Compiles the policy's PII settings. Throws (at load) on an invalid extra pattern, naming it. */
export function compilePiiGuard(config: NonNullable<GuardPolicy["pii"]>): PiiGuard {
  const detectors: Detector[] = DETECTOR_ORDER.filter((name) => config.detectors.includes(name)).map(
    (name) => BUILT_IN[name],
  );
  for (const extra of config.extraPatterns) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(extra.regex, `${extra.flags.replace(/g/g, "")}g`);
    } catch (error) {
      throw new Error(
        `guardPolicies[].pii.extraPatterns "${extra.name}": invalid regex (${(error as Error).message}) — fix the pattern`,
      );
    }
    detectors.push({ kind: extra.name, pattern });
  }
  // Every built-in detector needs a digit or an '@'; extra patterns may need anything.
  const needsFullScan = config.extraPatterns.length > 0;

  const find = (text: string): Finding[] => {
    if (!needsFullScan && !/[\d@]/.test(text)) return [];
    const findings: Finding[] = [];
    const taken: [number, number][] = [];
    for (const detector of detectors) {
      detector.pattern.lastIndex = 0;
      for (const match of text.matchAll(detector.pattern)) {
        const start = match.index;
        const end = start + match[0].length;
        if (match[0].length === 0) continue;
        if (detector.accept && !detector.accept(match[0])) continue;
        if (taken.some(([s, e]) => start < e && end > s)) continue;
        taken.push([start, end]);
        findings.push({ kind: detector.kind, start, end });
      }
    }
    return findings;
  };

  return {
    mode: config.mode,
    find,
    apply(text) {
      const findings = find(text);
      if (findings.length === 0) return { action: "allow", value: text };
      const kinds = [...new Set(findings.map((f) => f.kind))].join(", ");
      if (config.mode === "block") return blockVerdict("pii", `the request contains personal data (${kinds})`);
      const { text: redacted, counts } = redactFindings(text, findings);
      if (config.mode === "mask") return { action: "allow", value: redacted, redactions: counts };
      return { action: "allow", value: text, redactions: counts, flagged: ["pii"] };
    },
  };
}
