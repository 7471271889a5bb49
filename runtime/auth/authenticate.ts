/**
 * Request path stage 1–2: read the bearer token from the `Authorization` header and verify it.
 * Only the header is accepted (`bearer_methods_supported: ["header"]`): no query or body tokens.
 */
import type { IncomingMessage } from "node:http";
import type { Principal } from "../http/types.js";
import type { TokenVerifier, VerifyResult } from "./verifier.js";

export type Authentication =
  | { readonly outcome: "authenticated"; readonly principal: Principal }
  | { readonly outcome: "missing" }
  /** `error` is the RFC 6750 code of the 401: `invalid_request` for a request no token can be read from. */
  | { readonly outcome: "invalid"; readonly reason: string; readonly error: "invalid_token" | "invalid_request" };

const MALFORMED = { malformed: true } as const;

/**
 * Whether the request carries more than one `Authorization` header. Node keeps only the first in
 * `req.headers` (it discards duplicates of this header), so the raw list is counted: which of two
 * credentials counts must never depend on which component reads the request.
 */
export function hasDuplicateAuthorization(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 13 || name.toLowerCase() !== "authorization") continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/**
 * The token from `Authorization: Bearer <token>` (scheme in any case, one or more spaces, a token without
 * spaces, trailing spaces allowed), `undefined` when there is no header. A scan, not a regex: the header
 * is as long as the token (a kilobyte and more) and is read on every request.
 */
export function bearerToken(req: IncomingMessage): string | undefined | { malformed: true } {
  const header = req.headers.authorization;
  if (header === undefined || header === "") return undefined;
  if (header.length < 8 || header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== "bearer")
    return MALFORMED;
  let start = 7;
  while (header.charCodeAt(start) === 32) start++;
  let end = header.length;
  while (end > start && header.charCodeAt(end - 1) === 32) end--;
  if (end === start) return MALFORMED;
  const token = header.slice(start, end);
  return token.includes(" ") ? MALFORMED : token;
}

/** Synchronous for a missing or malformed header and for a token verified before (the common case). */
export function authenticate(req: IncomingMessage, verifier: TokenVerifier): Authentication | Promise<Authentication> {
  if (hasDuplicateAuthorization(req))
    return { outcome: "invalid", reason: "more than one authorization header", error: "invalid_request" };
  const token = bearerToken(req);
  if (token === undefined) return { outcome: "missing" };
  if (typeof token !== "string")
    return { outcome: "invalid", reason: "malformed authorization header", error: "invalid_token" };
  const result = verifier.verify(token);
  return result instanceof Promise ? result.then(outcomeOf) : outcomeOf(result);
}

function outcomeOf(result: VerifyResult): Authentication {
  return result.ok
    ? { outcome: "authenticated", principal: result.principal }
    : { outcome: "invalid", reason: result.reason, error: "invalid_token" };
}
