/**
 * Last line of defence for audit lines and span attributes: a value that looks like a bearer token, a
 * JWT or a known credential format never leaves the process, even if a caller passed one by mistake.
 * Callers are still expected to pass typed values only; this catches the mistake, it is not the design.
 *
 * Hot path: every credential shape this looks for needs an unbroken run of 15+ characters (a JWT, a
 * known-format key), a PEM header, or the word Bearer/Basic. Text without any of them (ids, model
 * names, reasons, most prose) is returned after one pass over its characters and one precompiled keyword
 * test, without running the patterns.
 */
import { KNOWN_CREDENTIAL_FORMATS, mayHoldKnownCredential } from "../../policies/secrets/known-formats.js";
import { CleanTextCache } from "../guards/clean-text-cache.js";

/** What replaces a value that looked like a secret. */
export const SCRUBBED = "[scrubbed]";

const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const KNOWN_GLOBAL = KNOWN_CREDENTIAL_FORMATS.map(
  (format) =>
    new RegExp(
      format.pattern.source,
      format.pattern.flags.includes("g") ? format.pattern.flags : `${format.pattern.flags}g`,
    ),
);
/**
 * A necessary condition for every pattern above: the known formats pass the shared prefilter, a JWT is a
 * longer run than any of them, and BEARER needs its keyword.
 */
const AUTH_SCHEME = /\b(?:bearer|basic)\s/i;
/**
 * Both keywords start with a b, and outside the `u` flag a case-insensitive regex folds no other character to
 * one: text without a `b` or `B` (most audit fields: kinds, decisions, routes, models, methods) skips the regex.
 */
const mayNameAuthScheme = (text: string) => (text.includes("b") || text.includes("B")) && AUTH_SCHEME.test(text);
const mayNeedScrubbing = (text: string) => mayHoldKnownCredential(text) || mayNameAuthScheme(text);

/**
 * Short values that needed the patterns and held nothing to scrub (subjects, client ids, model names recur
 * on every line of a user or route): at most 1,024 of up to 128 characters, oldest dropped first. A value
 * that did hold a credential is never remembered; it is scrubbed again each time.
 */
const clean = new CleanTextCache(1024, 128);

/** `text` with every JWT, `Bearer …` credential and known-format credential replaced by {@link SCRUBBED}. */
export function scrubText(text: string): string {
  if (!mayNeedScrubbing(text)) return text;
  if (clean.has(text)) return text;
  let out = text.replace(JWT, SCRUBBED).replace(BEARER, `$1 ${SCRUBBED}`);
  for (const pattern of KNOWN_GLOBAL) out = out.replace(pattern, SCRUBBED);
  if (out === text) clean.add(text);
  return out;
}

/** Attribute and field names that must never be recorded, whatever their value. */
const FORBIDDEN_KEY =
  /(authorization|cookie|secret|password|passwd|api[._-]?key|bearer|access[._-]?token|refresh[._-]?token|id[._-]?token|client[._-]?secret)/i;

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEY.test(key);
}

/** Scrubs every string inside a JSON-like value (objects, arrays), dropping forbidden keys. */
export function scrubValue<T>(value: T): T {
  if (typeof value === "string") return scrubText(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !isForbiddenKey(k))
        .map(([k, v]) => [k, scrubValue(v)]),
    ) as T;
  }
  return value;
}
