/**
 * Last line of defence for audit lines and span attributes: a value that looks like a bearer token, a
 * JWT or a known credential format never leaves the process, even if a caller passed one by mistake.
 * Callers are still expected to pass typed values only; this catches the mistake, it is not the design.
 */
import { KNOWN_CREDENTIAL_FORMATS } from "../../policies/secrets/known-formats";

/** What replaces a value that looked like a secret. */
export const SCRUBBED = "[scrubbed]";

const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;

/** `text` with every JWT, `Bearer …` credential and known-format credential replaced by {@link SCRUBBED}. */
export function scrubText(text: string): string {
  let out = text.replace(JWT, SCRUBBED).replace(BEARER, `$1 ${SCRUBBED}`);
  for (const format of KNOWN_CREDENTIAL_FORMATS) {
    const global = new RegExp(format.pattern.source, format.pattern.flags.includes("g") ? format.pattern.flags : `${format.pattern.flags}g`);
    out = out.replace(global, SCRUBBED);
  }
  return out;
}

/** Attribute and field names that must never be recorded, whatever their value. */
const FORBIDDEN_KEY = /(authorization|cookie|secret|password|passwd|api[._-]?key|bearer|access[._-]?token|refresh[._-]?token|id[._-]?token|client[._-]?secret)/i;

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEY.test(key);
}

/** Scrubs every string inside a JSON-like value (objects, arrays), dropping forbidden keys. */
export function scrubValue<T>(value: T): T {
  if (typeof value === "string") return scrubText(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([k]) => !isForbiddenKey(k)).map(([k, v]) => [k, scrubValue(v)])) as T;
  }
  return value;
}
