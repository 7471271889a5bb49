/**
 * The policy gate: runs on every POST body BEFORE the SDK transport sees it. Every request message of the
 * body (a single message or a batch) that calls something — `tools/call`, `prompts/get`, `resources/read`,
 * `resources/subscribe` — is decided with the pure `policies/tools` functions; one refused message refuses
 * the whole body, so a batch cannot hide a forbidden call. When nothing is refused, every `tools/call` of
 * the body is counted against the caller's rate limit.
 *
 * Refusals:
 * - a known tool the caller lacks a scope for → HTTP 403 with `WWW-Authenticate: Bearer
 *   error="insufficient_scope", scope="<every scope that would allow it>"` (the client can step up);
 * - always-blocked, deny rules and tools no grant covers → a JSON-RPC error (HTTP 200) naming the rule:
 *   no token could ever allow them, so an OAuth challenge would only send clients into a step-up loop;
 * - unknown tools pass through and get the SDK's JSON-RPC "Unknown tool" error from the session;
 * - rate limit spent → HTTP 429 with `Retry-After`.
 */
import { ATTR, span, tracingActive } from "../observability/index.js";
import type { Bundle } from "../../policies/bundle/index.js";
import {
  type CompiledToolPolicy,
  type ToolDecision,
  decideTool,
  decideUpstreamItem,
  splitNamespacedUri,
} from "../../policies/tools/index.js";
import { insufficientScopeChallenge, resourceMetadataUrl } from "../auth/challenge.js";
import type { RateLimiter, RequestContext } from "../http/types.js";
import type { AuditEvent } from "../observability/audit.js";
import { asRequest, jsonRpcError } from "./jsonrpc.js";
import type { McpSession } from "./session.js";

/** JSON-RPC error code for calls refused by gateway policy (implementation-defined server error range). */
export const POLICY_REFUSED = -32003;

export type GateVerdict =
  | { readonly pass: true; readonly headers: Readonly<Record<string, string>> }
  | {
      readonly pass: false;
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: unknown;
    };

interface Refusal {
  readonly id: string | number;
  readonly decision: Extract<ToolDecision, { allowed: false }>;
}

const CALL_METHODS = new Set(["tools/call", "prompts/get", "resources/read", "resources/subscribe"]);

function errorBody(
  messages: readonly unknown[],
  isBatch: boolean,
  refusals: readonly Refusal[],
  fallback: string,
): unknown {
  const errors = messages.flatMap((m) => {
    const request = asRequest(m);
    if (!request) return [];
    const refusal = refusals.find((r) => r.id === request.id);
    return [jsonRpcError(request.id, POLICY_REFUSED, refusal ? `refused: ${refusal.decision.rule}` : fallback)];
  });
  return isBatch ? errors : errors[0];
}

export async function policyGate(
  ctx: RequestContext,
  session: McpSession,
  body: unknown,
  messages: readonly unknown[],
  policy: CompiledToolPolicy,
  limiter: RateLimiter,
  bundle: Bundle,
): Promise<GateVerdict> {
  const requests = messages.map(asRequest).filter((r) => r !== undefined && CALL_METHODS.has(r.method));
  if (requests.length === 0) return { pass: true, headers: {} };
  if (!session.started) await session.ready;
  const { principal } = ctx;
  const audit = (event: Omit<AuditEvent, "kind" | "principal" | "client" | "requestId" | "traceId">) =>
    ctx.audit.record({
      kind: "mcp",
      principal: principal.subject,
      client: principal.clientId,
      requestId: ctx.requestId,
      traceId: ctx.traceId,
      ...event,
    });

  const refusals: Refusal[] = [];
  let toolCalls = 0;
  for (const request of requests) {
    if (!request) continue;
    const params = request.params ?? {};
    let decision: ToolDecision | undefined;
    let upstream: string | undefined;
    let name: string | undefined;
    if (request.method === "tools/call") {
      // Every call counts against the budget, unknown names included: probing costs budget too, and a tool
      // whose upstream connects between this gate and the handler cannot slip past the limiter.
      toolCalls += 1;
      name = typeof params.name === "string" ? params.name : undefined;
      const item = name === undefined ? undefined : session.tools.resolve(name);
      if (!item) {
        audit({
          decision: "deny",
          method: request.method,
          ...(name !== undefined ? { tool: name } : {}),
          rule: "unknown tool",
        });
        continue;
      }
      upstream = item.upstreamId;
      decision = decideTool(principal.scopes, item.upstreamId, item.name, policy);
    } else if (request.method === "prompts/get") {
      name = typeof params.name === "string" ? params.name : undefined;
      const item = name === undefined ? undefined : session.prompts.resolve(name);
      if (!item) continue;
      upstream = item.upstreamId;
      decision = decideUpstreamItem(principal.scopes, item.upstreamId, policy, item.name);
    } else {
      name = typeof params.uri === "string" ? params.uri : undefined;
      const target = name === undefined ? undefined : splitNamespacedUri(name);
      if (!target || !session.upstream(target.upstreamId)) continue;
      upstream = target.upstreamId;
      decision = decideUpstreamItem(principal.scopes, target.upstreamId, policy);
    }
    if (!decision.allowed) {
      refusals.push({ id: request.id, decision });
      const blocked = decision.rule.startsWith("always-blocked");
      audit({
        decision: blocked ? "block" : "deny",
        method: request.method,
        upstream,
        ...(name !== undefined ? { tool: name } : {}),
        rule: decision.rule,
        status: decision.requiredScopes.length > 0 ? 403 : 200,
      });
    }
  }

  const isBatch = Array.isArray(body);
  if (refusals.length > 0) {
    const scopes = [...new Set(refusals.flatMap((r) => r.decision.requiredScopes))];
    const bodyOut = errorBody(messages, isBatch, refusals, "refused: the batch contains a refused call");
    if (scopes.length > 0) {
      return {
        pass: false,
        status: 403,
        headers: {
          "www-authenticate": insufficientScopeChallenge(
            resourceMetadataUrl(bundle, bundle.mcp?.path ?? "/mcp"),
            scopes,
          ),
        },
        body: bodyOut,
      };
    }
    return { pass: false, status: 200, headers: {}, body: bodyOut };
  }

  let headers: Readonly<Record<string, string>> = {};
  const policyId = bundle.mcp?.policy ?? "default";
  for (let i = 0; i < toolCalls; i++) {
    const limit = tracingActive()
      ? await span("tollgate.limit", { [ATTR.ROUTE]: "mcp" }, () => limiter.admitRequest(ctx.principal, policyId))
      : await limiter.admitRequest(ctx.principal, policyId);
    headers = limit.headers;
    if (!limit.allowed) {
      audit({ decision: "rate-limited", method: "tools/call", rule: limit.reason, status: 429 });
      return {
        pass: false,
        status: 429,
        headers: { ...limit.headers, "retry-after": String(limit.retryAfterSeconds) },
        body: errorBody(messages, isBatch, [], `rate limited: ${limit.reason}`),
      };
    }
  }
  return { pass: true, headers };
}
