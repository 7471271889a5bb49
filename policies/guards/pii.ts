/**
 * PII detection and redaction for prompts before they leave the gateway: e-mail addresses, phone
 * numbers, US social security numbers, payment cards (Luhn-checked, so order numbers pass) and IP
 * addresses, plus the policy's extra patterns. Everything is compiled once per policy.
 *
 * Most text holds none of these, so one pass over the characters ({@link measureText}) first says which
 * built-in detectors could match at all: an e-mail address needs an '@'; an SSN, a card or a phone number
 * needs 9, 13 or 10 ASCII digits close together (the patterns' `\d` is ASCII only); an IPv4 address needs
 * three dots between digits, an IPv6 address a "::" or seven colons after hex digits (so JSON's
 * `"key":"value"` colons do not count). Only those detectors' patterns then run.
 */
import type { GuardMode, GuardPolicy } from "../bundle/index.js";
import { type Finding, type TextVerdict, blockVerdict, redactFindings } from "./verdict.js";

export type PiiDetectorName = "email" | "phone" | "ssn" | "payment-card" | "ip-address";

export interface PiiDetector {
  readonly kind: string;
  readonly pattern: RegExp;
  /** Extra check on a match (e.g. Luhn); a match failing it is not PII. */
  readonly accept?: (match: string) => boolean;
  /** False when the pattern cannot match text of this shape (a necessary condition, never sufficient). */
  readonly mayMatch?: (shape: TextShape) => boolean;
}

/** What one pass over a text tells the detectors. */
export interface TextShape {
  readonly hasDigit: boolean;
  readonly hasAt: boolean;
  /** A "::" somewhere (every compressed IPv6 address has one). */
  readonly doubleColon: boolean;
  /** Colons right after a hex digit (a full IPv6 address has seven). */
  readonly hexColons: number;
  /**
   * The most ASCII digits in one cluster: digits joined by gaps of at most two characters out of
   * space, '-', '.', '(' and ')', the only characters the digit patterns allow between two digits.
   */
  readonly clusterDigits: number;
  /** The most gaps holding a '.' in one such cluster (an IPv4 address has three). */
  readonly clusterDots: number;
}

/** One pass over `text` for {@link TextShape}. */
export function measureText(text: string): TextShape {
  let hasAt = false;
  let doubleColon = false;
  let hexColons = 0;
  let hasDigit = false;
  let clusterDigits = 0;
  let clusterDots = 0;
  let digits = 0;
  let dots = 0;
  // Separator characters since the last digit (3 = the cluster is broken), and whether they held a dot.
  let gap = 3;
  let gapDot = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      hasDigit = true;
      if (gap > 2) {
        digits = 0;
        dots = 0;
      } else if (gapDot) dots++;
      digits++;
      gap = 0;
      gapDot = false;
      if (digits > clusterDigits) clusterDigits = digits;
      if (dots > clusterDots) clusterDots = dots;
    } else if (c === 32 || c === 45 || c === 46 || c === 40 || c === 41) {
      gap++;
      if (c === 46) gapDot = true;
    } else {
      gap = 3;
      if (c === 64) hasAt = true;
      else if (c === 58 && i > 0) {
        const before = text.charCodeAt(i - 1);
        if (before === 58) doubleColon = true;
        else if ((before >= 48 && before <= 57) || ((before | 32) >= 97 && (before | 32) <= 102)) hexColons++;
      }
    }
  }
  return { hasDigit, hasAt, doubleColon, hexColons, clusterDigits, clusterDots };
}

/** The built-in detectors; exported for the tests that hold the prefilters to the plain patterns. */
export const BUILT_IN_PII_DETECTORS: Readonly<Record<PiiDetectorName, PiiDetector>> = {
  email: {
    kind: "email",
    pattern: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b/g,
    mayMatch: (shape) => shape.hasAt,
  },
  // Dashed or spaced, excluding numbers the SSA never issues (000, 666, 9xx areas; 00 group; 0000 serial).
  ssn: {
    kind: "ssn",
    pattern: /\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b/g,
    mayMatch: (shape) => shape.clusterDigits >= 9,
  },
  "payment-card": {
    kind: "payment-card",
    pattern: /\b\d(?:[ -]?\d){12,18}\b/g,
    accept: (m) => luhnValid(m.replace(/[ -]/g, "")),
    mayMatch: (shape) => shape.clusterDigits >= 13,
  },
  // North-American numbers with separators, and international numbers written with a leading +.
  phone: {
    kind: "phone",
    pattern:
      /(?<![\w+])(?:\+?1[-. ])?(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}\b|(?<![\w+])\+\d{1,3}(?:[-. ]?\d{1,4}){2,5}\b/g,
    accept: (m) => m.replace(/\D/g, "").length >= 10,
    mayMatch: (shape) => shape.clusterDigits >= 10,
  },
  "ip-address": {
    kind: "ip-address",
    pattern:
      /\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}:){0,5}[0-9a-fA-F]{1,4}(?![\w:])/g,
    mayMatch: (shape) => shape.clusterDots >= 3 || shape.doubleColon || shape.hexColons >= 7,
  },
};

/** Order matters for overlaps: an SSN or card wins over the phone number hidden in its digits. */
export const PII_DETECTOR_ORDER: readonly PiiDetectorName[] = ["email", "ssn", "payment-card", "phone", "ip-address"];

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
  /** False when one pass over `text` proves no detector can match (no pattern runs); true says "scan". */
  mayFind(text: string): boolean;
  /** Applies the policy mode: mask → redacted text and counts; block → block verdict; log → unchanged text with counts. */
  apply(text: string): TextVerdict;
}

/** Compiles the policy's PII settings. Throws (at load) on an invalid extra pattern, naming it. */
export function compilePiiGuard(config: NonNullable<GuardPolicy["pii"]>): PiiGuard {
  const detectors: PiiDetector[] = PII_DETECTOR_ORDER.filter((name) => config.detectors.includes(name)).map(
    (name) => BUILT_IN_PII_DETECTORS[name],
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
  /** Whether `detector` can match text of `shape`. */
  const applies = (detector: PiiDetector, shape: TextShape): boolean =>
    // Text with neither a digit nor an '@' skips every built-in, an IPv6 address of letters only included.
    !detector.mayMatch || ((shape.hasDigit || shape.hasAt) && detector.mayMatch(shape));

  const find = (text: string): Finding[] => {
    const shape = measureText(text);
    const findings: Finding[] = [];
    const taken: [number, number][] = [];
    for (const detector of detectors) {
      if (!applies(detector, shape)) continue;
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
    mayFind(text) {
      const shape = measureText(text);
      return detectors.some((detector) => applies(detector, shape));
    },
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
