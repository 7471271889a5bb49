/**
 * `claimHeaders` of an MCP upstream: headers the gateway adds to every request it sends that upstream, with
 * values from the verified identity of the request — never the inbound token, and never a header the client
 * sent (the gateway builds every upstream request's headers itself). An upstream that needs to know the user,
 * the agent or the tenant reads them here instead of a token it would have to verify.
 *
 * Sources: `subject` (the verified `sub`: the user, or the agent's client when it acts alone), `client` (the
 * client claim), `agent` (`agents[].id`), `acting-for` (the user an agent acts for), `claim:<name>` (a string,
 * number or boolean claim of the verified token, e.g. `claim:tenant`). A value that is absent, or that is not
 * printable ASCII within 1024 characters, leaves the header out: it is never sent half-valid.
 */
import { z } from "zod";

/** The identity values a claim header can carry. */
export const CLAIM_HEADER_SOURCES = ["subject", "client", "agent", "acting-for"] as const;
export type ClaimHeaderSource = (typeof CLAIM_HEADER_SOURCES)[number] | `claim:${string}`;

/** An HTTP field name (RFC 9110 token characters, restricted to what proxies pass untouched). */
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const CLAIM_NAME = /^claim:[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Names the gateway or the transport owns, and names that read like credentials: an identity header must never
 * be mistaken for one (or overwrite one) by the upstream or anything between.
 */
const RESERVED = new Set([
  "host",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "content-length",
  "content-type",
  "content-encoding",
  "accept",
  "accept-encoding",
  "forwarded",
  "via",
  "traceparent",
  "tracestate",
  "baggage",
  "x-request-id",
  "mcp-session-id",
  "mcp-protocol-version",
  "mcp-method",
  "mcp-name",
  "last-event-id",
]);
const CREDENTIAL_LIKE =
  /authorization|authenticat|cookie|token|secret|password|passwd|api-?key|session|signature|^proxy-|^x-forwarded-|^x-real-ip$/i;

/** Why `name` cannot be a claim header, or undefined when it can. */
export function claimHeaderNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return "expected a header name: letters, digits and '-', at most 64 characters";
  const lower = name.toLowerCase();
  if (RESERVED.has(lower)) return `"${name}" is a header the gateway or HTTP itself sets`;
  if (CREDENTIAL_LIKE.test(lower))
    return `"${name}" reads like a credential header: identity headers carry no credential, pick a name such as x-tollgate-user`;
  return undefined;
}

export function claimHeadersSchema() {
  const source = z.union([
    z.enum(CLAIM_HEADER_SOURCES),
    z.string().regex(CLAIM_NAME, {
      error: `expected ${CLAIM_HEADER_SOURCES.map((s) => `"${s}"`).join(", ")} or "claim:<name>" (e.g. "claim:tenant")`,
    }),
  ]);
  return z
    .record(z.string(), source)
    .superRefine((headers, ctx) => {
      const seen = new Set<string>();
      for (const name of Object.keys(headers)) {
        const problem = claimHeaderNameProblem(name);
        if (problem) ctx.addIssue({ code: "custom", path: [name], message: problem });
        const lower = name.toLowerCase();
        if (seen.has(lower))
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `"${name}" is listed twice (names are case-insensitive)`,
          });
        seen.add(lower);
      }
    })
    .transform((headers) => headers as Record<string, ClaimHeaderSource>);
}
