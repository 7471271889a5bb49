/**
 * The MCP gateway: streamable HTTP (POST, GET SSE, DELETE) on the bundle's MCP path.
 *
 * Contract with the server: the server authenticates (re-verifying the token on every request), then calls
 * `handle` for every request on the MCP path. The request path, DESIGN.md's stages after authenticate and
 * identify, one entry each, run by `runStages`:
 * - POST: parse → era, then for 2025-era bodies session → authorize → limit → forward. The body is read,
 *   parsed and decided here (./policy-gate.ts) before any SDK code sees it; an initialize opens a new session
 *   (./sessions.ts). A 2026-07-28 stateless body (./era.ts) takes upstream set → authorize → limit →
 *   forward instead (./stateless.ts), with the same policy gate.
 * - GET (the server's stream) and DELETE: session → forward.
 * Guarding a tool call's arguments, calling the upstream, guarding its result and recording the call run
 * per call inside the session (./session.ts), where the SDK hands each message over.
 *
 * A session is not tied to this process: its record (./session-records.ts) lets any replica, or the runtime
 * that replaces this one on reload, resume it for the same principal (./sessions.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { compileToolPolicy } from "../../policies/tools/index.js";
import { runStages } from "../http/stage.js";
import { type UpstreamClient, createUpstreamClient } from "../http/upstream-client.js";
import type { ActiveConfig, HttpHandler, RateLimiter, RequestContext, ToolCallGuard } from "../http/types.js";
import type { AuditLog } from "../observability/audit.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { type McpEndpoint, mcpEndpoints } from "./endpoint.js";
import { McpExchange, type McpRefusal, type McpServices } from "./exchange.js";
import { jsonRpcError } from "./jsonrpc.js";
import { authorize, limit } from "./policy-gate.js";
import { forward, parse, session } from "./request-stages.js";
import { type SessionRecords, memorySessionRecords } from "./session-records.js";
import { streamEventRetention } from "./session-events.js";
import { SessionRegistry } from "./sessions.js";
import { era, forwardStateless, upstreamSet } from "./stateless.js";
import { StdioBudget } from "./stdio-budget.js";
import { upstreamFetch } from "./upstream-fetch.js";

export interface McpGateway {
  /** The main MCP path's handler. */
  readonly handle: HttpHandler;
  /** The handler of an MCP endpoint path (the main path or a role's `<path>/<role>`), undefined for others. */
  route(pathname: string): HttpHandler | undefined;
  /** Closes every downstream session and its upstream clients. */
  close(): Promise<void>;
  /** Downstream sessions this replica holds (for /readyz, metrics and tests). */
  sessionCount(): number;
  /** Upstream sets this replica holds for stateless (2026-07-28) callers, one per principal (./stateless.ts). */
  statelessSetCount(): number;
  /** The tools the upstreams listed to this replica's sessions (the upstreams' own names), for the console. */
  listedTools(): readonly { readonly upstream: string; readonly name: string }[];
  /** Stdio upstream processes held for sessions, and the bound. */
  stdioProcesses(): { readonly inUse: number; readonly limit: number };
}

export interface McpGatewayDeps {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
  readonly toolGuard: ToolCallGuard;
  /**
   * The pooled HTTP client HTTP upstreams are reached through; its owner closes it.
   * @default a client of this gateway's own, closed with it
   */
  readonly upstream?: UpstreamClient;
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
  /**
   * Where session records live, so another replica or the next runtime after a reload resumes a session
   * this one opened (./session-records.ts). The caller owns it (closes it).
   * @default records in this gateway's memory: sessions end with the gateway
   */
  readonly sessionRecords?: SessionRecords;
  /**
   * Stdio upstream processes this gateway runs for all its sessions together; a session that would pass
   * it is refused with 503 and Retry-After.
   * @default 256
   */
  readonly maxStdioProcesses?: number;
}

const POST_ENTRY = [parse, era];
const POST_PATH = [session, authorize, limit, forward];
const STATELESS_PATH = [upstreamSet, authorize, limit, forwardStateless];
const SESSION_PATH = [session, forward];

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

/**
 * The SDK hands `req.auth` to request handlers as `extra.authInfo`: that is how a handler learns the verified
 * principal of the request it serves. The raw token is not put there.
 */
function attachContext(req: IncomingMessage, ctx: RequestContext): void {
  (req as IncomingMessage & { auth?: unknown }).auth = {
    token: "",
    clientId: ctx.principal.clientId ?? "",
    scopes: [...ctx.principal.scopes],
    expiresAt: ctx.principal.expiresAt,
    extra: { ctx },
  };
}

export function createMcpGateway(config: ActiveConfig, deps: McpGatewayDeps): McpGateway {
  const { bundle } = config;
  const mcp = bundle.mcp;
  const policy = compileToolPolicy(mcp ?? { grants: [], deny: [], alwaysBlocked: [] });
  const upstream = deps.upstream ?? createUpstreamClient();
  const idleMs = deps.idleSessionMs ?? 30 * 60_000;
  const records = deps.sessionRecords ?? memorySessionRecords(idleMs, Date.now, streamEventRetention(mcp));
  const stdio = new StdioBudget(deps.maxStdioProcesses ?? 256);
  const fetch = upstreamFetch(upstream.dispatcher);
  const maxPerPrincipal = Math.max(1, deps.maxSessionsPerPrincipal ?? 8);
  /** One session registry per endpoint: a session shows what the endpoint it was opened on shows. */
  const servicesFor = (endpoint: McpEndpoint): McpServices => ({
    bundle,
    policy,
    limiter: deps.limiter,
    endpoint,
    sessions: new SessionRegistry({
      bundle,
      endpoint,
      policy,
      toolGuard: deps.toolGuard,
      fetch,
      metrics: deps.metrics,
      idleMs,
      records,
      stdio,
      maxPerPrincipal,
      upstreamMinBackoffMs: deps.upstreamMinBackoffMs,
      upstreamStartWaitMs: deps.upstreamStartWaitMs,
    }),
  });
  const endpoints = mcpEndpoints(bundle).map(servicesFor);
  const registries = endpoints.map((e) => e.sessions);

  const handlerFor =
    (services: McpServices): HttpHandler =>
    async (ctx, req, res) => {
      const isPost = req.method === "POST";
      if (!isPost && req.method !== "GET" && req.method !== "DELETE")
        return sendJson(res, 405, jsonRpcError(null, -32000, "Method not allowed"), { allow: "GET, POST, DELETE" });
      attachContext(req, ctx);
      const exchange = new McpExchange(services, ctx, req, res);
      const refusal = isPost ? await runPost(exchange) : await runStages(SESSION_PATH, exchange);
      if (refusal) sendJson(res, refusal.status, refusal.body, refusal.headers);
    };
  const handlers = new Map(endpoints.map((services) => [services.endpoint.path, handlerFor(services)]));
  const main = endpoints[0];
  const handle: HttpHandler =
    (main && handlers.get(main.endpoint.path)) ??
    (async (_ctx, _req, res) => sendJson(res, 404, { error: "this gateway has no MCP section" }));

  /** A 2026-07-28 notification is accepted and not forwarded: the upstream set has nothing to do with it. */
  const runPost = async (x: McpExchange): Promise<McpRefusal | undefined> => {
    const refused = await runStages(POST_ENTRY, x);
    if (refused) return refused;
    if (x.stateless === "notification") {
      x.res.writeHead(202).end();
      return undefined;
    }
    return runStages(x.stateless ? STATELESS_PATH : POST_PATH, x);
  };

  const sum = (count: (r: SessionRegistry) => number) => registries.reduce((n, r) => n + count(r), 0);
  return {
    handle,
    route: (pathname) => handlers.get(pathname),
    sessionCount: () => sum((r) => r.size),
    statelessSetCount: () => sum((r) => r.statelessSize),
    listedTools: () => {
      const seen = new Map<string, { upstream: string; name: string }>();
      for (const tool of registries.flatMap((r) => r.listedTools()))
        seen.set(JSON.stringify([tool.upstream, tool.name]), tool);
      return [...seen.values()];
    },
    stdioProcesses: () => ({ inUse: stdio.inUse, limit: stdio.limit }),
    close: async () => {
      await Promise.all(registries.map((r) => r.close()));
      if (!deps.sessionRecords) await records.close();
      if (!deps.upstream) await upstream.close();
    },
  };
}
