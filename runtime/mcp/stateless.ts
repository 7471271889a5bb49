/**
 * MCP 2026-07-28 (stateless Streamable HTTP) on the same path as the 2025-era sessions. A POST's era is
 * decided from its body (./era.ts); a stateless request then runs
 * `era → upstream set → authorize → limit → forward`, with the same policy gate (./policy-gate.ts) as a
 * session request: the decision is made on the JSON-RPC body, never on `Mcp-Method` / `Mcp-Name`.
 *
 * Where the upstream connections come from: each principal (issuer, subject, client) gets one internal
 * session on this replica, its "upstream set" (SessionRegistry.statelessFor): a real McpSession, so the
 * same SDK handlers filter lists, re-decide calls, guard arguments and results and audit, with the same
 * upstream machinery (reconnect with backoff, credentials, the replica's stdio budget). The gateway
 * translates: the 2026 request, its `_meta` envelope removed, is handed to that session's transport as a
 * 2025-11-25 request; the answer comes back as one JSON body and is given what 2026-07-28 requires
 * (`resultType`, the server's identity in `_meta`, caching hints on lists, no tool `execution`). Upstreams
 * stay 2025-era servers.
 *
 * Failure modes and limits of that choice:
 * - the set opens on a principal's first stateless request (that request waits for the upstreams' first
 *   connection attempts, as a new session does) and closes after the session idle timeout; an upstream
 *   that keeps state per connection loses it then, and each replica holds its own set (nothing to resume:
 *   a stateless client may reach any replica, which opens its own set);
 * - when opening a set would pass the replica's stdio process bound, the request gets 503 with
 *   Retry-After, like a new session;
 * - all of a principal's stateless clients on one replica share the set (one per principal, not per
 *   client process), so the upstreams are told of no client capability: sampling and elicitation from
 *   an upstream are refused, and progress and log notifications are not delivered (a stateless answer is
 *   one JSON body);
 * - lists carry `ttlMs: 0` and `cacheScope: "private"`: what a list shows depends on the caller's token
 *   and on upstream catalogs that change without a notification a stateless client could receive.
 */
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import type { Stage } from "../http/stage.js";
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SERVER_INFO_META_KEY,
  STATELESS_PROTOCOL_VERSION,
  classifyEra,
  eraHeaders,
} from "./era.js";
import type { McpExchange, McpRefusal } from "./exchange.js";
import { authInfoOf } from "./direct-post.js";
import { jsonRpcError } from "./jsonrpc.js";
import { lookupRefusal } from "./request-stages.js";

type McpStage = Stage<McpExchange, McpRefusal>;

const SERVER_INFO = { name: "tollgate", version: "0.1.0" } as const;
/** What a stateless client is offered: no list_changed or resource subscriptions (no stream to send them on). */
const CAPABILITIES = { tools: {}, prompts: {}, resources: {}, completions: {}, logging: {} } as const;
/** Envelope keys of 2026-07-28 that a 2025-era server does not know. */
const ENVELOPE_KEYS = [
  PROTOCOL_VERSION_META_KEY,
  CLIENT_INFO_META_KEY,
  CLIENT_CAPABILITIES_META_KEY,
  "io.modelcontextprotocol/logLevel",
];
const LIST_METHODS = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list"]);
/** Answered by the gateway itself: nothing upstream is needed for them. */
const LOCAL_METHODS = new Set(["server/discover", "ping"]);
/**
 * 2025-era methods a stateless caller is answered "Method not found" for: the handshake, and what would
 * leave state in the upstream set that no later stateless request could be told about.
 */
const NOT_STATELESS = new Set(["initialize", "resources/subscribe", "resources/unsubscribe", "logging/setLevel"]);

/**
 * Runs right after `parse`: which era the body belongs to. A refusal here is the validation ladder's
 * (HTTP 400); a header that disagrees with the body is audited as a denial.
 */
export const era: McpStage = {
  name: "era",
  run(x) {
    const found = classifyEra(x.body, eraHeaders(x.req.headers));
    switch (found.era) {
      case "legacy":
        return undefined;
      case "stateless-notification":
        x.stateless = "notification";
        return undefined;
      case "stateless-request":
        x.stateless = found.request;
        return undefined;
      case "refused": {
        const { refusal } = found;
        if (refusal.auditRule) {
          const request = x.messages.length === 1 ? (x.messages[0] as { method?: unknown; params?: unknown }) : {};
          const params = (typeof request.params === "object" && request.params) || {};
          const name = (params as { name?: unknown; uri?: unknown }).name ?? (params as { uri?: unknown }).uri;
          x.audit({
            decision: "deny",
            ...(typeof request.method === "string" ? { method: request.method } : {}),
            ...(typeof name === "string" ? { tool: name } : {}),
            rule: refusal.auditRule,
            status: refusal.status,
          });
        }
        return {
          status: refusal.status,
          body: {
            jsonrpc: "2.0",
            id: refusal.id,
            error: {
              code: refusal.code,
              message: refusal.message,
              ...(refusal.data !== undefined ? { data: refusal.data } : {}),
            },
          },
        };
      }
    }
  },
};

/** The principal's upstream set on this replica (opened on first use); none for what the gateway answers. */
export const upstreamSet: McpStage = {
  name: "session",
  async run(x) {
    const request = x.stateless;
    if (typeof request !== "object" || LOCAL_METHODS.has(request.method)) return undefined;
    if (NOT_STATELESS.has(request.method))
      return {
        status: 200,
        body: jsonRpcError(
          request.id,
          -32601,
          `Method not found: ${request.method} is not part of ${STATELESS_PROTOCOL_VERSION}`,
        ),
      };
    const found = await x.services.sessions.statelessFor(x.ctx);
    if (!found.ok) return lookupRefusal(found.reason);
    x.session = found.session;
    return undefined;
  },
};

/** Answers a stateless request: locally (`server/discover`, `ping`) or through the upstream set's transport. */
export const forwardStateless: McpStage = {
  name: "forward",
  async run(x) {
    const request = x.stateless;
    if (typeof request !== "object") throw new Error("stateless forward without a stateless request");
    const { res } = x;
    for (const [name, value] of Object.entries(x.headers)) res.setHeader(name, value);
    if (request.method === "server/discover") {
      return answer(x, 200, {
        jsonrpc: "2.0",
        id: request.id,
        result: complete(request.method, {
          supportedVersions: [STATELESS_PROTOCOL_VERSION],
          capabilities: CAPABILITIES,
          instructions: x.services.endpoint.instructions,
        }),
      });
    }
    if (request.method === "ping")
      return answer(x, 200, { jsonrpc: "2.0", id: request.id, result: complete(request.method, {}) });
    const session = x.session;
    if (!session) throw new Error("stateless forward before the upstream set");
    const message = withoutEnvelope(x.body as Record<string, unknown>);
    const response = await session.webTransport().handleRequest(
      new Request("http://tollgate.invalid/mcp", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-session-id": session.sessionId ?? "",
          "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
        },
        body: JSON.stringify(message),
      }),
      { parsedBody: message, ...authInfoOf(x.req) },
    );
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`the stateless upstream set answered ${response.status} without a JSON body`);
    }
    return answer(x, response.status, reshape(request.method, body));
  },
};

function answer(x: McpExchange, status: number, body: unknown): undefined {
  x.res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return undefined;
}

/** The message as a 2025-era server expects it: the 2026 envelope keys taken out of `params._meta`. */
function withoutEnvelope(message: Record<string, unknown>): Record<string, unknown> {
  const params = message.params as Record<string, unknown>;
  const meta = { ...(params._meta as Record<string, unknown>) };
  for (const key of ENVELOPE_KEYS) delete meta[key];
  const { _meta: _dropped, ...rest } = params;
  return { ...message, params: Object.keys(meta).length > 0 ? { ...rest, _meta: meta } : rest };
}

/** A 2026-07-28 result: `resultType`, the server's identity, and caching hints for lists. */
function complete(method: string, result: Record<string, unknown>): Record<string, unknown> {
  const meta = typeof result._meta === "object" && result._meta !== null ? result._meta : {};
  return {
    ...result,
    resultType: "complete",
    ...(LIST_METHODS.has(method) || method === "server/discover" ? { ttlMs: 0, cacheScope: "private" } : {}),
    _meta: { ...meta, [SERVER_INFO_META_KEY]: SERVER_INFO },
  };
}

function reshape(method: string, body: unknown): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const message = body as Record<string, unknown>;
  if (typeof message.result !== "object" || message.result === null) return body;
  return {
    ...message,
    result: complete(method, withoutDeletedFields(method, message.result as Record<string, unknown>)),
  };
}

/** 2026-07-28 removed a tool's `execution` (task support): a 2025-era list has it, a stateless one must not. */
function withoutDeletedFields(method: string, result: Record<string, unknown>): Record<string, unknown> {
  if (method !== "tools/list" || !Array.isArray(result.tools)) return result;
  const tools = (result.tools as unknown[]).map((tool) => {
    if (typeof tool !== "object" || tool === null || !("execution" in tool)) return tool;
    const { execution: _removed, ...rest } = tool as Record<string, unknown>;
    return rest;
  });
  return { ...result, tools };
}
