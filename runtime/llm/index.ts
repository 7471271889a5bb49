/**
 * LLM routes. Contract with the server: after authentication the server asks `route(pathname)`; a handler
 * means the path belongs to an LLM route, `undefined` means it does not.
 *
 * Per route (`{prefix}`):
 * - `POST {prefix}/v1/chat/completions`: OpenAI-compatible, JSON and SSE, for every provider kind
 *   (Anthropic providers are translated to and from the Messages API).
 * - `POST {prefix}/v1/messages`: Anthropic Messages (Anthropic SDK clients): passed through to Anthropic
 *   providers, translated to chat.completions for OpenAI-kind ones.
 * - `POST {prefix}/v1/responses`: OpenAI Responses (openai SDK `responses.create`): passed through to OpenAI
 *   providers, translated for the others (./translate/).
 * - `GET {prefix}/v1/models`: the first available provider's list (Anthropic's shape when the client sends
 *   `anthropic-version`, OpenAI's otherwise).
 *
 * Completions take the request path of ./completion.ts. Everything per route is compiled at load.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { compileGuardPolicy } from "../../policies/guards/index.js";
import { parseJsonObject } from "../http/json.js";
import type { ActiveConfig, HttpHandler, RateLimiter, RequestContext } from "../http/types.js";
import { type AuditEvent, type AuditLog, auditWho } from "../observability/audit.js";
import { type GatewayMetrics, propagateTo, traceHeaders, untracedTraceContext } from "../observability/index.js";
import { anthropicModelsToOpenAi } from "./anthropic-translate.js";
import { serveCompletion } from "./completion.js";
import { type ErrorFlavour, type LlmError, sendLlmError } from "./errors.js";
import type { CompiledRoute, LlmServices } from "./exchange.js";
import { ProviderHealth } from "./failover.js";
import { prepareProvider } from "./providers.js";
import { createRequestGuard } from "./request-guard.js";
import { RequestHistory } from "./history/request-history.js";

/** For all routes together: 8 conversations per principal and route, 64 MiB estimated in all. */
const HISTORY_LIMITS = { perPrincipal: 8, maxBytes: 64 * 1024 * 1024 };
import { type SpendLedger, createSpendLedger } from "../limits/spend.js";
import { pickHeaders } from "./request-stages.js";
import { ENDPOINTS, type WireFormat, errorFlavour } from "./translate/formats.js";
import { openAiModelsToAnthropic } from "./translate/messages-chat.js";
import { type UpstreamClient, UpstreamUnavailable, createUpstreamClient } from "../http/upstream-client.js";

/** A provider failover skips on one route until `until`. */
export interface CoolingDownProvider {
  readonly route: string;
  readonly provider: string;
  readonly until: Date;
}

export interface LlmGateway {
  route(pathname: string): HttpHandler | undefined;
  /** The providers failover skips now, per route that lists them (the operator console's upstreams page). */
  coolingDown(): CoolingDownProvider[];
  close(): Promise<void>;
}

export interface LlmGatewayDeps {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
  /**
   * Prices and spend budgets; its owner closes it.
   * @default a ledger of this gateway's own (memory store), closed with it
   */
  readonly spend?: SpendLedger;
  /**
   * The pooled HTTP client providers are reached through; its owner closes it.
   * @default a client of this gateway's own, closed with it
   */
  readonly upstream?: UpstreamClient;
  /** Clock for provider eviction (tests pass a controllable one). @default Date.now */
  readonly now?: () => number;
  /**
   * Upstream latency metrics for untraced requests, which the server runs outside the request context.
   * @default the request context's metrics (none outside a request)
   */
  readonly metrics?: Pick<GatewayMetrics, "observeUpstream">;
}

export function createLlmGateway(config: ActiveConfig, deps: LlmGatewayDeps): LlmGateway {
  const now = deps.now ?? Date.now;
  const services: LlmServices = {
    audit: deps.audit,
    limiter: deps.limiter,
    spend: deps.spend ?? createSpendLedger(config, { audit: deps.audit, now }),
    health: new ProviderHealth(now),
    upstream: deps.upstream ?? createUpstreamClient(),
    now,
    metrics: deps.metrics,
    maxRequestBytes: config.bundle.server.maxRequestBytes,
    capturePrompts: config.bundle.telemetry.audit.capturePrompts,
  };
  const policies = new Map(config.bundle.guardPolicies.map((p) => [p.id, compileGuardPolicy(p)]));
  const routes: CompiledRoute[] = [];
  const byPath = new Map<string, HttpHandler>();
  // What the routes remember is bounded for the process, not per route: more routes never means more memory.
  const history = new RequestHistory(HISTORY_LIMITS);
  const cacheShare = 1 / Math.max(1, config.bundle.llm.routes.length);

  for (const routeConfig of config.bundle.llm.routes) {
    const policy = policies.get(routeConfig.policy);
    if (!policy) throw new Error(`llm.routes "${routeConfig.id}".policy: unknown guard policy "${routeConfig.policy}"`);
    const providers = routeConfig.providers.map((p) => prepareProvider(p, config.secrets));
    const prefix = routeConfig.pathPrefix.replace(/\/+$/, "");
    const handlers = new Map<string, HttpHandler>();
    const route: CompiledRoute = {
      config: routeConfig,
      prefix,
      providers,
      policy,
      requestGuard: createRequestGuard(policy, cacheShare),
      history,
      handlers,
    };
    for (const format of ["chat", "messages", "responses"] as const)
      handlers.set(`${prefix}${ENDPOINTS[format]}`, completions(route, format));
    handlers.set(`${prefix}/v1/models`, (ctx, req, res) => models(route, ctx, req, res));
    for (const [path, handler] of handlers) byPath.set(path, handler);
    routes.push(route);
  }

  const notFound =
    (route: CompiledRoute): HttpHandler =>
    async (ctx, req, res) =>
      sendError(
        ctx,
        res,
        {
          status: 404,
          type: "invalid_request_error",
          code: "unknown_url",
          message: `no such endpoint on route "${route.config.id}": ${req.method} ${req.url ?? ""}`,
        },
        "openai",
      );

  return {
    route(pathname) {
      const exact = byPath.get(pathname.endsWith("/") ? pathname.replace(/\/+$/, "") : pathname);
      if (exact) return exact;
      const owner = routes.find((r) => pathname === r.prefix || pathname.startsWith(`${r.prefix}/`));
      return owner ? notFound(owner) : undefined;
    },
    coolingDown() {
      const evicted = services.health.coolingDown();
      if (evicted.size === 0) return [];
      return routes.flatMap((r) =>
        r.providers.flatMap((p) => {
          const until = evicted.get(p.id);
          return until ? [{ route: r.config.id, provider: p.id, until }] : [];
        }),
      );
    },
    close: async () => {
      if (!deps.upstream) await services.upstream.close();
      if (!deps.spend) await services.spend.close();
    },
  };

  /** A completion endpoint: POST only. */
  function completions(route: CompiledRoute, format: WireFormat): HttpHandler {
    return async (ctx, req, res) => {
      if (req.method === "POST") return serveCompletion(services, route, ctx, req, res, format);
      sendError(
        ctx,
        res,
        { status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "use POST" },
        errorFlavour(format),
        { allow: "POST" },
      );
    };
  }

  async function models(
    route: CompiledRoute,
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (req.method !== "GET")
      return sendError(
        ctx,
        res,
        { status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "use GET" },
        "openai",
        { allow: "GET" },
      );
    const started = performance.now();
    const audit = (event: Omit<AuditEvent, "kind" | "route" | "principal" | "client" | "requestId">) =>
      services.audit.record({
        kind: "llm",
        ...auditWho(ctx.principal),
        route: route.config.id,
        requestId: ctx.requestId,
        traceId: ctx.traceId,
        method: "GET /v1/models",
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
        ...event,
      });
    // Listing models is a request like any other: counted against the caller's budget, and recorded.
    const admission = await services.limiter.admitRequest(ctx.principal, route.config.policy);
    if (!admission.allowed) {
      audit({
        decision: "rate-limited",
        rule: `limits: ${route.config.policy}`,
        reason: admission.reason,
        status: 429,
      });
      return sendError(
        ctx,
        res,
        {
          status: 429,
          type: "rate_limit_error",
          code: "rate_limit_exceeded",
          message: `rate limit: ${admission.reason}; retry after ${admission.retryAfterSeconds}s`,
        },
        "openai",
        { ...admission.headers, "retry-after": String(admission.retryAfterSeconds) },
      );
    }
    const wantsAnthropic = req.headers["anthropic-version"] !== undefined;
    for (const provider of services.health.order(route.providers)) {
      try {
        const response = await services.upstream.fetchWhole({
          url: provider.modelsUrl,
          method: "GET",
          headers: upstreamHeaders(ctx, req, provider.headers(pickHeaders(req, ["anthropic-version"]))),
          timeoutMs: provider.config.timeoutMs,
          idleMs: route.config.idleTimeoutMs,
          cancellation: ctx.cancellation,
          maxBytes: route.config.maxResponseBytes,
        });
        if (response.status >= 500 || response.status === 429 || "failure" in response.body) continue;
        let text = response.body.bytes.toString("utf8");
        if (response.status < 300 && (provider.kind === "anthropic") !== wantsAnthropic)
          text = JSON.stringify(
            wantsAnthropic
              ? openAiModelsToAnthropic(parseJsonObject(text) ?? {})
              : anthropicModelsToOpenAi(parseJsonObject(text) ?? {}),
          );
        audit({ decision: response.status < 400 ? "allow" : "error", provider: provider.id, status: response.status });
        res.writeHead(response.status, {
          ...admission.headers,
          "x-request-id": ctx.requestId,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(text),
          "x-tollgate-provider": provider.id,
        });
        res.end(text);
        return;
      } catch (error) {
        if (!(error instanceof UpstreamUnavailable)) throw error;
      }
    }
    audit({ decision: "error", reason: "no provider answered", status: 503 });
    sendError(
      ctx,
      res,
      {
        status: 503,
        type: "api_error",
        code: "providers_unavailable",
        message: `no provider of route "${route.config.id}" answered`,
      },
      "openai",
      admission.headers,
    );
  }
}

/** A provider request's headers with the request's id and trace context. */
function upstreamHeaders(
  ctx: RequestContext,
  req: IncomingMessage,
  headers: Record<string, string>,
): Record<string, string> {
  const out = traceHeaders(headers);
  propagateTo(out, ctx.requestId, () => untracedTraceContext(req.headers));
  return out;
}

/**
 * An error response of an LLM route. Like every response of these routes it carries `x-request-id`, which
 * the server leaves to the route's own headers (see runtime/server/index.ts).
 */
function sendError(
  ctx: RequestContext,
  res: ServerResponse,
  error: LlmError,
  flavour: ErrorFlavour,
  headers?: Readonly<Record<string, string>>,
): void {
  sendLlmError(res, error, flavour, { "x-request-id": ctx.requestId, ...headers });
}
