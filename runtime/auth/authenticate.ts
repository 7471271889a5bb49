/**
 * Request path stage 1–2: read the bearer token from the `Authorization` header and verify it.
 * Only the header is accepted (`bearer_methods_supported: ["header"]`): no query or body tokens.
 */
import type { IncomingMessage } from "node:http";
import type { Principal } from "../http/types";
import type { TokenVerifier, VerifyResult } from "./verifier";

export type Authentication =
  | { readonly outcome: "authenticated"; readonly principal: Principal }
  | { readonly outcome: "missing" }
  | { readonly outcome: "invalid"; readonly reason: string };

/** The token from `Authorization: Bearer <token>`, `undefined` when there is none. */
export function bearerToken(req: IncomingMessage): string | undefined | { malformed: true } {
  const header = req.headers.authorization;
  if (header === undefined || header === "") return undefined;
  const match = /^Bearer +([^ ]+) *$/i.exec(header);
  if (!match?.[1]) return { malformed: true };
  return match[1];
}

/** Synchronous for a missing or malformed header and for a token verified before (the common case). */
export function authenticate(req: IncomingMessage, verifier: TokenVerifier): Authentication | Promise<Authentication> {
  const token = bearerToken(req);
  if (token === undefined) return { outcome: "missing" };
  if (typeof token !== "string") return { outcome: "invalid", reason: "malformed authorization header" };
  const result = verifier.verify(token);
  return result instanceof Promise ? result.then(outcomeOf) : outcomeOf(result);
}

function outcomeOf(result: VerifyResult): Authentication {
  return result.ok ? { outcome: "authenticated", principal: result.principal } : { outcome: "invalid", reason: result.reason };
}
