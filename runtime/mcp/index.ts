/**
 * The MCP gateway: streamable HTTP (POST, GET SSE, DELETE) on the bundle's MCP path.
 *
 * Contract with the server: the server authenticates (re-verifying the token on every request), then calls
 * `handle` for every request on the MCP path. Per request:
 * 1. POST bodies are read and parsed here (size-capped) and pass the policy gate before any SDK code sees
 *    them (see `policy-gate.ts`).
 * 2. A request carrying `Mcp-Session-Id` must come from the principal that initialized the session, same
 *    issuer, subject and client; otherwise it gets 404 "Session not found", exactly what an unknown id
 *    gets, so a session id cannot be probed or hijacked with another user's token, and a legitimate client
 *    that receives it simply starts a new session (the spec's reaction to 404).
 * 3. An `initialize` without a session id creates a new session: its own Server, transport and upstream
 *    clients (see `session.ts`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { compileToolPolicy } from "../../policies/tools/index.js";
import type { ActiveConfig, HttpHandler, RateLimiter, RequestContext, ToolCallGuard } from "../http/types.js";
import type { AuditLog } from "../observability/audit.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { TokenCache } from "./credentials.js";
import { asRequest, jsonRpcError, readJsonRpcBody } from "./jsonrpc.js";
import { policyGate } from "./policy-gate.js";
import { McpSession, bindingOf, sameBinding } from "./session.js";

export interface McpGateway {
  readonly handle: HttpHandler;
  /** Closes every downstream session and its upstream clients. */
  close(): Promise<void>;
  /** Open downstream sessions (for /readyz, metrics and tests). */
  sessionCount(): number;
}

export interface McpGatewayDeps {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
  readonly toolGuard: ToolCallGuard;
  /** Upstream latency and health metrics for untraced requests (they run outside the request context). */
  readonly metrics?: Pick<GatewayMetrics, "observeUpstream" | "setMcpUpstreamHealth">;
  /**
   * Sessions idle longer than this are closed (their upstream children stopped).
   * @default 30 minutes
   */
  readonly idleSessionMs?: number;
  /**
   * First upstream reconnect delay; doubles up to 30 s.
   * @default 250
   */
  readonly upstreamMinBackoffMs?: number;
  /**
   * Longest time a request waits for a new session's upstreams to connect; later ones join with list_changed.
   * @default 5000
   */
  readonly upstreamStartWaitMs?: number;
  /**
   * Open sessions one principal (issuer, subject, client) may hold; opening one more closes its least recently
   * used session. Each session owns upstream clients (stdio children included), so this bounds what one
   * caller can make the gateway spawn.
   * @default 8
   */
  readonly maxSessionsPerPrincipal?: number;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

export function createMcpGateway(config: ActiveConfig, deps: McpGatewayDeps): McpGateway {
  const { bundle } = config;
  const mcp = bundle.mcp;
  const policy = compileToolPolicy(mcp ?? { grants: [], deny: [], alwaysBlocked: [] });
  const sessions = new Map<string, McpSession>();
  const tokenCache = new TokenCache();
  const idleMs = deps.idleSessionMs ?? 30 * 60_000;
  const maxPerPrincipal = Math.max(1, deps.maxSessionsPerPrincipal ?? 8);

  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const session of sessions.values()) if (session.lastSeen < cutoff) void session.close();
    },
    Math.min(60_000, idleMs),
  );
  sweeper.unref();

  const attachContext = (req: IncomingMessage, ctx: RequestContext) => {
    // The SDK hands `req.auth` to request handlers as `extra.authInfo`: that is how a handler learns the
    // verified principal of the request it serves. The raw token is not put there.
    (req as IncomingMessage & { auth?: unknown }).auth = {
      token: "",
      clientId: ctx.principal.clientId ?? "",
      scopes: [...ctx.principal.scopes],
      expiresAt: ctx.principal.expiresAt,
      extra: { ctx },
    };
  };

  const findSession = (ctx: RequestContext, req: IncomingMessage, res: ServerResponse): McpSession | undefined => {
    const id = req.headers["mcp-session-id"];
    if (typeof id !== "string" || id.length === 0) {
      sendJson(res, 400, jsonRpcError(null, -32000, "Bad Request: Mcp-Session-Id header is required"));
      return undefined;
    }
    const session = sessions.get(id);
    if (!session || !sameBinding(session.binding, bindingOf(ctx.principal))) {
      if (session) {
        ctx.audit.record({
          kind: "mcp",
          decision: "deny",
          principal: ctx.principal.subject,
          client: ctx.principal.clientId,
          rule: "session: bound to another principal",
          status: 404,
          requestId: ctx.requestId,
          traceId: ctx.traceId,
        });
      }
      sendJson(res, 404, jsonRpcError(null, -32001, "Session not found"));
      return undefined;
    }
    session.touch(ctx.principal);
    return session;
  };

  const initialize = async (
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    messages: readonly unknown[],
  ) => {
    const init = messages.length === 1 ? asRequest(messages[0]) : undefined;
    if (init?.method !== "initialize") {
      sendJson(
        res,
        400,
        jsonRpcError(
          null,
          -32000,
          "Bad Request: Mcp-Session-Id header is required (or send a single initialize request)",
        ),
      );
      return;
    }
    const params = (init.params ?? {}) as Partial<InitializeRequest["params"]>;
    const binding = bindingOf(ctx.principal);
    const own = [...sessions.values()]
      .filter((s) => sameBinding(s.binding, binding))
      .sort((a, b) => a.lastSeen - b.lastSeen);
    for (const stale of own.slice(0, Math.max(0, own.length - maxPerPrincipal + 1))) await stale.close();
    const session = new McpSession({
      bundle,
      policy,
      ctx,
      toolGuard: deps.toolGuard,
      tokenCache,
      clientCapabilities: params.capabilities ?? {},
      onClosed: (s) => {
        if (s.sessionId && sessions.get(s.sessionId) === s) sessions.delete(s.sessionId);
      },
      ...(deps.upstreamMinBackoffMs !== undefined ? { minBackoffMs: deps.upstreamMinBackoffMs } : {}),
      ...(deps.upstreamStartWaitMs !== undefined ? { startWaitMs: deps.upstreamStartWaitMs } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    try {
      await session.server.connect(session.transport);
      await session.transport.handleRequest(req, res, body);
    } catch (error) {
      await session.close();
      throw error;
    }
    // No session id: the transport refused the initialize (bad version, bad headers); its children go too.
    if (session.sessionId) sessions.set(session.sessionId, session);
    else await session.close();
  };

  const handle: HttpHandler = async (ctx, req, res) => {
    if (!mcp) {
      sendJson(res, 404, { error: "this gateway has no MCP section" });
      return;
    }
    attachContext(req, ctx);
    switch (req.method) {
      case "POST": {
        const parsed = await readJsonRpcBody(req, bundle.server.maxRequestBytes);
        if (!parsed.ok) {
          sendJson(res, parsed.status, jsonRpcError(null, parsed.code, parsed.message));
          return;
        }
        if (req.headers["mcp-session-id"] === undefined) {
          await initialize(ctx, req, res, parsed.body, parsed.messages);
          return;
        }
        const session = findSession(ctx, req, res);
        if (!session) return;
        const verdict = await policyGate(ctx, session, parsed.body, parsed.messages, policy, deps.limiter, bundle);
        if (!verdict.pass) {
          sendJson(res, verdict.status, verdict.body, verdict.headers);
          return;
        }
        for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
        await session.transport.handleRequest(req, res, parsed.body);
        return;
      }
      case "GET": {
        const session = findSession(ctx, req, res);
        if (!session) return;
        // Streams must reach the client as they are written, through any buffering proxy.
        res.setHeader("x-accel-buffering", "no");
        await session.transport.handleRequest(req, res);
        return;
      }
      case "DELETE": {
        const session = findSession(ctx, req, res);
        if (!session) return;
        await session.transport.handleRequest(req, res);
        return;
      }
      default:
        sendJson(res, 405, jsonRpcError(null, -32000, "Method not allowed"), { allow: "GET, POST, DELETE" });
    }
  };

  return {
    handle,
    sessionCount: () => sessions.size,
    close: async () => {
      clearInterval(sweeper);
      await Promise.all([...sessions.values()].map((s) => s.close()));
      sessions.clear();
    },
  };
}
