/**
 * Request path stage 1–2: read the bearer token from the `Authorization` header and verify it, then identify
 * the agent behind it, if any (policies/identity: alone, exchanged token, or the user's token with the agent's
 * own in `Tollgate-Agent-Token`). Only headers are accepted (`bearer_methods_supported: ["header"]`): no query
 * or body tokens.
 */
import type { IncomingMessage } from "node:http";
import { type AgentDirectory, compileAgents, decideActingFor } from "../../policies/identity/acting-for.js";
import type { Principal } from "../http/types.js";
import type { TokenVerifier, VerifyResult } from "./verifier.js";

/**
 * The agent's own token when it calls with a user's token in `Authorization` (the user is present). Verified
 * like the user's; never forwarded upstream (the gateway builds every upstream request's headers itself).
 */
export const AGENT_TOKEN_HEADER = "tollgate-agent-token";

export type Authentication =
  | { readonly outcome: "authenticated"; readonly principal: Principal }
  | { readonly outcome: "missing" }
  /** `error` is the RFC 6750 code of the 401: `invalid_request` for a request no token can be read from. */
  | { readonly outcome: "invalid"; readonly reason: string; readonly error: "invalid_token" | "invalid_request" };

const MALFORMED = { malformed: true } as const;
const NO_AGENTS = compileAgents([]);

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

/**
 * The token of `Tollgate-Agent-Token` (the token alone, or `Bearer <token>`), `undefined` without the header.
 * A header sent twice reaches here joined with ", " and is malformed.
 */
export function agentToken(req: IncomingMessage): string | undefined | { malformed: true } {
  const header = req.headers[AGENT_TOKEN_HEADER];
  if (header === undefined) return undefined;
  if (typeof header !== "string" || header === "") return MALFORMED;
  const token = header.length > 7 && header.slice(0, 7).toLowerCase() === "bearer " ? header.slice(7) : header;
  return token.length === 0 || /[\s,]/.test(token) ? MALFORMED : token;
}

/**
 * Synchronous for a missing or malformed header and for tokens verified before (the common case). `agents`
 * (the bundle's, compiled at load) decides who acts: the principal carries the effective identity.
 */
export function authenticate(
  req: IncomingMessage,
  verifier: TokenVerifier,
  agents: AgentDirectory = NO_AGENTS,
): Authentication | Promise<Authentication> {
  if (hasDuplicateAuthorization(req))
    return { outcome: "invalid", reason: "more than one authorization header", error: "invalid_request" };
  const token = bearerToken(req);
  if (token === undefined) return { outcome: "missing" };
  if (typeof token !== "string")
    return { outcome: "invalid", reason: "malformed authorization header", error: "invalid_token" };
  const second = agentToken(req);
  if (second !== undefined && typeof second !== "string")
    return { outcome: "invalid", reason: `malformed ${AGENT_TOKEN_HEADER} header`, error: "invalid_request" };
  const result = verifier.verify(token);
  if (second === undefined)
    return result instanceof Promise
      ? result.then((r) => outcomeOf(r, undefined, agents))
      : outcomeOf(result, undefined, agents);
  const agentResult = verifier.verify(second);
  if (!(result instanceof Promise) && !(agentResult instanceof Promise)) return outcomeOf(result, agentResult, agents);
  return Promise.all([result, agentResult]).then(([r, a]) => outcomeOf(r, a, agents));
}

function outcomeOf(
  result: VerifyResult,
  agentResult: VerifyResult | undefined,
  agents: AgentDirectory,
): Authentication {
  if (!result.ok) return { outcome: "invalid", reason: result.reason, error: "invalid_token" };
  // A bad agent token is a 401, never a quiet fall back to the user alone.
  if (agentResult && !agentResult.ok)
    return { outcome: "invalid", reason: `agent token: ${agentResult.reason}`, error: "invalid_token" };
  const principal = result.principal;
  const agentPrincipal = agentResult?.principal;
  const decision = decideActingFor(agents, principal, agentPrincipal);
  if (!decision.ok) return { outcome: "invalid", reason: decision.reason, error: decision.error };
  if (decision.agent === undefined) return { outcome: "authenticated", principal };
  return {
    outcome: "authenticated",
    principal: {
      ...principal,
      agent: decision.agent,
      scopes: decision.scopes,
      ...(decision.delegation ? { delegation: decision.delegation } : {}),
      // Both tokens must still be valid: the identity ends with the first to expire.
      expiresAt: Math.min(principal.expiresAt, agentPrincipal?.expiresAt ?? Number.POSITIVE_INFINITY),
    },
  };
}
