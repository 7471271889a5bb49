/**
 * Credential-leak detection on model output and tool results: the project's known credential formats
 * (`policies/secrets/known-formats.ts`: AWS key IDs, OpenAI/Anthropic/xAI keys, GitHub, Slack, PEM,
 * Okta) as a fast synchronous pass, plus secretlint's recommended preset (with the AWS access-key-ID
 * scan on) for the long tail. secretlint only runs when the text contains a token long enough to be a
 * secret and one of the fixed strings some rule of the preset needs (`./secretlint-prefilter.ts`), which
 * keeps prose, URLs and identifiers on the fast path.
 *
 * Streaming: `createStreamingCredentialScanner` holds back only the tail that could still be the start
 * of a secret (the last unfinished word, or an unfinished PEM header), bounded by `holdBackChars`, so a
 * key split across any number of chunks is seen whole before any of it is released.
 */
import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { creator as recommendedPreset } from "@secretlint/secretlint-rule-preset-recommend";
import type { SecretLintCoreConfig } from "@secretlint/types";
import type { GuardMode, GuardPolicy } from "../bundle/index.js";
import { KNOWN_CREDENTIAL_FORMATS, hasUnbrokenRun, mayHoldKnownCredential } from "../secrets/known-formats.js";
import { mayHoldSecretlintFinding } from "./secretlint-prefilter.js";
import { type Finding, type TextVerdict, blockVerdict, redactFindings } from "./verdict.js";

// secretlint's profiler is on by default and leaves performance marks behind on every lint (about sixty per
// scan, never cleared): in a long-running gateway that is memory growing with traffic. It is only a profiler.
secretLintProfiler.setEnabled(false);

const KNOWN_GLOBAL = KNOWN_CREDENTIAL_FORMATS.map((format) => ({
  id: format.id,
  pattern: new RegExp(format.pattern.source, `${format.pattern.flags.replace("g", "")}g`),
}));

const SECRETLINT_CONFIG: SecretLintCoreConfig = {
  rules: [
    {
      id: recommendedPreset.meta.id,
      rule: recommendedPreset,
      rules: [{ id: "@secretlint/secretlint-rule-aws", options: { enableIDScanRule: true } }],
    },
  ],
};

/**
 * When secretlint runs: the text has a long unbroken token (as before the prefilter, so the findings stay
 * exactly what they were) and something one of the preset's rules needs.
 */
const needsSecretlint = (text: string) => hasUnbrokenRun(text, 16) && mayHoldSecretlintFinding(text);

/** Known-format credentials in `text` (synchronous, regex only). */
export function findKnownCredentials(text: string): Finding[] {
  const findings: Finding[] = [];
  for (const { id, pattern } of KNOWN_GLOBAL) {
    pattern.lastIndex = 0;
    for (const match of text.matchAll(pattern))
      findings.push({ kind: id, start: match.index, end: match.index + match[0].length });
  }
  return findings;
}

/**
 * The credentials in `text` when they can be found synchronously (no secretlint pass needed), else
 * `undefined`: the caller then awaits {@link findCredentials}.
 */
export function findCredentialsSync(text: string): Finding[] | undefined {
  if (!mayHoldKnownCredential(text)) return [];
  if (needsSecretlint(text)) return undefined;
  return findKnownCredentials(text);
}

/** Every credential in `text`: known formats plus secretlint's recommended preset. */
export async function findCredentials(text: string): Promise<Finding[]> {
  if (!mayHoldKnownCredential(text)) return [];
  const findings = findKnownCredentials(text);
  if (!needsSecretlint(text)) return findings;
  for (const found of await lintCredentials(text))
    if (!findings.some((f) => f.start < found.end && f.end > found.start)) findings.push(found);
  return findings;
}

/** secretlint's findings in `text`, with no prefilter (the prefilter's tests hold it to this). */
export async function lintCredentials(text: string): Promise<Finding[]> {
  const result = await lintSource({
    source: { content: text, filePath: "/llm-output.txt", contentType: "text" },
    options: { config: SECRETLINT_CONFIG, noPhysicFilePath: true, maskSecrets: true },
  });
  return result.messages.map((message) => ({
    kind: message.ruleId.replace(/^@secretlint\/secretlint-rule-/, ""),
    start: message.range[0],
    end: message.range[1],
  }));
}

export interface CredentialLeakGuard {
  readonly mode: GuardMode;
  readonly holdBackChars: number;
  /** Synchronous when no secretlint pass is needed (the common case), a promise otherwise. */
  apply(text: string): TextVerdict | Promise<TextVerdict>;
}

export function compileCredentialLeakGuard(config: NonNullable<GuardPolicy["credentialLeak"]>): CredentialLeakGuard {
  return {
    mode: config.mode,
    holdBackChars: config.holdBackChars,
    apply(text) {
      const quick = findCredentialsSync(text);
      if (quick) return verdictFor(config.mode, text, quick);
      return findCredentials(text).then((findings) => verdictFor(config.mode, text, findings));
    },
  };
}

function verdictFor(mode: GuardMode, text: string, findings: readonly Finding[]): TextVerdict {
  if (findings.length === 0) return { action: "allow", value: text };
  if (mode === "block") return blockVerdict("credential-leak", "the response contained a credential");
  const { text: redacted, counts } = redactFindings(text, findings);
  if (mode === "mask") return { action: "allow", value: redacted, redactions: counts };
  return { action: "allow", value: text, redactions: counts, flagged: ["credential-leak"] };
}

/** What the streaming scanner lets through after a chunk. */
export type StreamScanResult =
  | { readonly action: "release"; readonly text: string; readonly redactions?: Readonly<Record<string, number>> }
  | { readonly action: "block"; readonly guard: "credential-leak" | "pii"; readonly message: string };

/** PII in model output (the policy's `pii` with `responses: true`), scanned in the same window as credentials. */
export interface StreamingPii {
  readonly mode: GuardMode;
  find(text: string): Finding[];
}

/**
 * Where the tail that could still grow into a PII match starts: a trailing run of the characters phone, card
 * and SSN numbers are written with (digits, spaces, `+ ( ) . -`) that holds a digit. An email is one word,
 * which {@link holdBackStart} holds already.
 */
function numberTailStart(text: string, floor: number): number {
  let start = text.length;
  let digits = false;
  for (let i = text.length - 1; i >= floor; i--) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57;
    if (!(digit || c === 32 || c === 43 || c === 40 || c === 41 || c === 46 || c === 45)) break;
    digits ||= digit;
    start = i;
  }
  return digits ? start : text.length;
}

/**
 * Where the caller can cut the held text without splitting one of its units (an SSE event's content),
 * so that released text maps onto whole upstream events and can be forwarded as their own bytes.
 */
export interface ReleaseBoundaries {
  /** The largest unit boundary `<= cut`, counted in characters of the held text (0 when none). */
  boundaryAtOrBefore(cut: number): number;
}

export interface StreamingCredentialScanner {
  /**
   * Adds decoded text; returns what may be sent now ("" while a possible secret is held back).
   * Synchronous when the window needs no secretlint pass (the common case), a promise otherwise.
   * With `boundaries`, clean text is released only up to a unit boundary, unless that would hold back
   * more than `holdBackChars` extra characters (the hold-back stays bounded by twice `holdBackChars`).
   */
  push(text: string, boundaries?: ReleaseBoundaries): StreamScanResult | Promise<StreamScanResult>;
  /** The stream ended: adds the last `text` (if any), scans once and returns everything still held back. */
  finish(text?: string): StreamScanResult | Promise<StreamScanResult>;
  /** Characters currently held back (never more than 2 x holdBackChars). */
  readonly held: number;
}

/**
 * Where the unreleasable tail of `text` starts: the start of the last unfinished word, or of an
 * unfinished PEM header, but never further back than `holdBack` characters.
 */
export function holdBackStart(text: string, holdBack: number): number {
  const floor = Math.max(0, text.length - holdBack);
  let start = text.length;
  for (let i = text.length - 1; i >= floor; i--) {
    const c = text.charCodeAt(i);
    // whitespace, quotes and backtick end a token
    if (c === 32 || c === 10 || c === 13 || c === 9 || c === 34 || c === 39 || c === 96) break;
    start = i;
  }
  // A PEM header has spaces in it: hold from an unfinished "-----BEGIN ... -----".
  const pem = text.lastIndexOf("-----BEGIN");
  if (pem >= 0 && pem < start && text.indexOf("-----", pem + 10) < 0) start = pem;
  return Math.max(floor, start);
}

export function createStreamingCredentialScanner(
  config: NonNullable<GuardPolicy["credentialLeak"]> | undefined,
  pii?: StreamingPii,
): StreamingCredentialScanner {
  let window = "";
  let blocked: StreamScanResult | undefined;
  const holdBack = config?.holdBackChars ?? 256;

  const BLOCKED: StreamScanResult = {
    action: "block",
    guard: "credential-leak",
    message: "guard: credential-leak — the response contained a credential",
  };
  const PII_BLOCKED: StreamScanResult = {
    action: "block",
    guard: "pii",
    message: "guard: pii — the response contained personal data",
  };

  /** Credential findings and PII findings together, as one guard in the mode they share or by mode. */
  const decide = (
    final: boolean,
    credentials: readonly Finding[],
    boundaries: ReleaseBoundaries | undefined,
  ): StreamScanResult => {
    const personal = pii ? pii.find(window) : [];
    const blocking =
      credentials.length > 0 && config?.mode === "block"
        ? BLOCKED
        : personal.length > 0 && pii?.mode === "block"
          ? PII_BLOCKED
          : undefined;
    if (blocking) {
      window = "";
      return (blocked = blocking);
    }
    // Log mode lets the text through and reports counts: credentials as one guard, PII by detector.
    let logged: Record<string, number> | undefined;
    if (config?.mode === "log" && credentials.length > 0) logged = { "credential-leak": credentials.length };
    if (pii?.mode === "log") for (const f of personal) (logged ??= {})[f.kind] = (logged[f.kind] ?? 0) + 1;
    const masked = [...(config?.mode === "mask" ? credentials : []), ...(pii?.mode === "mask" ? personal : [])];
    return release(final, masked, logged, boundaries);
  };

  const release = (
    final: boolean,
    findings: readonly Finding[],
    loggedCounts: Record<string, number> | undefined,
    boundaries: ReleaseBoundaries | undefined,
  ): StreamScanResult => {
    const held = holdBackStart(window, holdBack);
    let cut = final
      ? window.length
      : pii
        ? Math.min(held, numberTailStart(window, Math.max(0, window.length - holdBack)))
        : held;
    if (findings.length === 0 && boundaries && cut < window.length) {
      const aligned = boundaries.boundaryAtOrBefore(cut);
      if (aligned >= 0 && aligned <= cut && cut - aligned <= holdBack) cut = aligned;
    }
    if (findings.length === 0) {
      const text = window.slice(0, cut);
      window = window.slice(cut);
      return loggedCounts ? { action: "release", text, redactions: loggedCounts } : { action: "release", text };
    }
    // mask: redact complete findings; a finding that reaches the held tail may still grow, so wait for it.
    const complete = findings.filter((f) => final || f.end < cut);
    const releaseUpTo = Math.min(cut, ...findings.filter((f) => !complete.includes(f)).map((f) => f.start));
    const head = window.slice(0, releaseUpTo);
    const inHead = complete.filter((f) => f.end <= releaseUpTo);
    const { text, counts } = redactFindings(head, inHead);
    window = window.slice(releaseUpTo);
    return { action: "release", text, redactions: loggedCounts ? { ...loggedCounts, ...counts } : counts };
  };

  const scan = (final: boolean, boundaries?: ReleaseBoundaries): StreamScanResult | Promise<StreamScanResult> => {
    if (blocked) return blocked;
    if (!config) return decide(final, [], boundaries);
    const quick = findCredentialsSync(window);
    if (quick) return decide(final, quick, boundaries);
    return findCredentials(window).then((findings) => decide(final, findings, boundaries));
  };

  return {
    get held() {
      return window.length;
    },
    push(text, boundaries) {
      window += text;
      return scan(false, boundaries);
    },
    finish(text) {
      if (text) window += text;
      return scan(true);
    },
  };
}
