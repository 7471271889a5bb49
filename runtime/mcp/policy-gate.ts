/**
 * The policy gate, two stages of an MCP POST that run BEFORE the SDK transport sees the body:
 * - authorize: every request message of the body (a single message or a batch) that calls something —
 *   `tools/call`, `prompts/get`, `resources/read`, `resources/subscribe` — is decided with the pure
 *   `policies/tools` functions; one refused message refuses the whole body, so a batch cannot hide a
 *   forbidden call;
 * - limit: when nothing is refused, every `tools/call` of the body is counted against the caller's rate limit.
 *
 * Refusals:
 * - a known tool the caller lacks a scope for → HTTP 403 with `WWW-Authenticate: Bearer
 *   error="insufficient_scope", scope="<every scope that would allow it>"` (the client can step up);
 * - always-blocked, deny rules and tools no grant covers → a JSON-RPC error (HTTP 200) naming the rule:
 *   no token could ever allow them, so an OAuth challenge would only send clients into a step-up loop;
 * - unknown tools pass through and get the SDK's JSON-RPC "Unknown tool" error from the session;
 * - rate limit spent → HTTP 429 with `Retry-After`.
 */
import { type ToolDecision, decideTool, decideUpstreamItem } from "../../policies/tools/index.js";
import { insufficientScopeChallenge, resourceMetadataUrl } from "../auth/challenge.js";
import { type MaybePromise, type Stage, andThen } from "../http/stage.js";
import type { LimitDecision } from "../http/types.js";
import { ATTR } from "../observability/index.js";
import { isMetaTool } from "./discovery.js";
import type { McpExchange, McpRefusal } from "./exchange.js";
import { type JsonRpcRequestLike, POLICY_REFUSED, asRequest, jsonRpcError } from "./jsonrpc.js";

type McpStage = Stage<McpExchange, McpRefusal>;

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

/** Decides every call of the body for the caller's scopes; counts the `tools/call`s for `limit`. */
export const authorize: McpStage = {
  name: "authorize",
  async run(x) {
    const requests = x.messages
      .map(asRequest)
      .filter((r): r is JsonRpcRequestLike => r !== undefined && CALL_METHODS.has(r.method));
    if (requests.length === 0) return undefined;
    const session = x.session;
    if (!session) throw new Error("authorize before session");
    if (!session.started) await session.ready;
    const { scopes } = x.ctx.principal;
    const { policy } = x.services;

    const refusals: Refusal[] = [];
    for (const request of requests) {
      const params = request.params ?? {};
      let decision: ToolDecision | undefined;
      let upstream: string | undefined;
      let name: string | undefined;
      if (request.method === "tools/call") {
        // Every call counts against the budget, unknown names included: probing costs budget too, and a tool
        // whose upstream connects between this gate and the handler cannot slip past the limiter.
        x.toolCalls += 1;
        name = typeof params.name === "string" ? params.name : undefined;
        const item = name === undefined ? undefined : session.tools.resolve(name);
        // Discovery's meta-tools decide on the caller's allowed catalog themselves (./discovery.ts).
        if (!item && name !== undefined && x.services.endpoint.discovery === "progressive" && isMetaTool(name))
          continue;
        if (!item) {
          x.audit({
            decision: "deny",
            method: request.method,
            ...(name !== undefined ? { tool: name } : {}),
            rule: "unknown tool",
          });
          continue;
        }
        upstream = item.upstreamId;
        decision = decideTool(scopes, item.upstreamId, item.name, policy);
      } else if (request.method === "prompts/get") {
        name = typeof params.name === "string" ? params.name : undefined;
        const item = name === undefined ? undefined : session.prompts.resolve(name);
        if (!item) continue;
        upstream = item.upstreamId;
        decision = decideUpstreamItem(scopes, item.upstreamId, policy, item.name);
      } else {
        name = typeof params.uri === "string" ? params.uri : undefined;
        const target = name === undefined ? undefined : session.endpoint.resolveUri(name);
        if (!target || !session.upstream(target.upstreamId)) continue;
        upstream = target.upstreamId;
        decision = decideUpstreamItem(scopes, target.upstreamId, policy);
      }
      if (!decision.allowed) {
        refusals.push({ id: request.id, decision });
        const blocked = decision.rule.startsWith("always-blocked");
        x.audit({
          decision: blocked ? "block" : "deny",
          method: request.method,
          upstream,
          ...(name !== undefined ? { tool: name } : {}),
          rule: decision.rule,
          status: decision.requiredScopes.length > 0 ? 403 : 200,
        });
      }
    }
    return refusals.length > 0 ? refuse(x, refusals) : undefined;
  },
};

/** A body with refused calls: 403 with a step-up challenge when some scope would allow them, else HTTP 200. */
function refuse(x: McpExchange, refusals: readonly Refusal[]): McpRefusal {
  const scopes = [...new Set(refusals.flatMap((r) => r.decision.requiredScopes))];
  const body = errorBody(x.messages, Array.isArray(x.body), refusals, "refused: the batch contains a refused call");
  if (scopes.length === 0) return { status: 200, body };
  const metadata = resourceMetadataUrl(x.services.bundle, x.services.endpoint.path);
  return { status: 403, headers: { "www-authenticate": insufficientScopeChallenge(metadata, scopes) }, body };
}

/** Counts every `tools/call` of the body against the caller's request budget; a spent budget is 429. */
export const limit: McpStage = {
  name: "limit",
  attributes: () => ({ [ATTR.ROUTE]: "mcp" }),
  run: (x) => admitCalls(x, x.toolCalls),
};

function admitCalls(x: McpExchange, left: number): MaybePromise<McpRefusal | undefined> {
  if (left === 0) return undefined;
  const policyId = x.services.bundle.mcp?.policy ?? "default";
  return andThen(x.services.limiter.admitRequest(x.ctx.principal, policyId), (limit: LimitDecision) => {
    x.headers = limit.headers;
    if (limit.allowed) return admitCalls(x, left - 1);
    x.audit({ decision: "rate-limited", method: "tools/call", rule: limit.reason, status: 429 });
    return {
      status: 429,
      headers: { ...limit.headers, "retry-after": String(limit.retryAfterSeconds) },
      body: errorBody(x.messages, Array.isArray(x.body), [], `rate limited: ${limit.reason}`),
    };
  });
}
