/**
 * LLM routes (runtime part 2). Contract with the server: after authentication the server asks
 * `route(pathname)`; a handler means the path belongs to an LLM route, `undefined` means it does not.
 *
 * Per route (`{prefix}`):
 * - `POST {prefix}/v1/chat/completions`: OpenAI-compatible, JSON and SSE, for every provider kind
 *   (Anthropic providers are translated to and from the Messages API).
 * - `POST {prefix}/v1/messages`: native Anthropic Messages pass-through (Anthropic SDK clients), to the
 *   route's Anthropic providers only.
 * - `GET {prefix}/v1/models`: the first available provider's list (OpenAI shape, or Anthropic's when
 *   the client sends `anthropic-version` and the provider is Anthropic).
 *
 * Stages per request: limit (verified `sub`) → request guards → forward with failover → response guard
 * → bill tokens from provider usage → audit. Everything per route is compiled at load.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LlmRoute } from "../../policies/bundle/index.js";
import {
  type CompiledGuardPolicy,
  compileGuardPolicy,
  createStreamingCredentialScanner,
} from "../../policies/guards/index.js";
import type { Json } from "../http/json.js";
import { RequestBodyTooLarge, readBody } from "../http/read-body.js";
import type { ActiveConfig, HttpHandler, RateLimiter, RequestContext } from "../http/types.js";
import type { AuditEvent, AuditLog } from "../observability/audit.js";
import { ATTR, type GatewayMetrics, span, traceHeaders, tracingActive, upstreamCall } from "../observability/index.js";
import {
  anthropicErrorToOpenAi,
  anthropicModelsToOpenAi,
  anthropicUsage,
  chatToMessagesRequest,
  messagesToChatResponse,
} from "./anthropic-translate.js";
import {
  type ErrorFlavour,
  type LlmError,
  badRequest,
  guardBlocked,
  responseGuardBlocked,
  sendLlmError,
} from "./errors.js";
import { ProviderHealth, triggerForStatus } from "./failover.js";
import { type PreparedProvider, prepareProvider } from "./providers.js";
import { type RequestGuard, createRequestGuard } from "./request-guard.js";
import { relayAnthropicAsOpenAi, relayAnthropicNative } from "./stream/anthropic-relay.js";
import { relayOpenAiStream } from "./stream/openai-relay.js";
import type { StreamOutcome } from "./stream/relay.js";
import {
  type UpstreamAnswer,
  type UpstreamRequest,
  UpstreamUnavailable,
  createUpstreamClient,
  discard,
  readWhole,
  retryAfterSeconds,
} from "./upstream-client.js";

export interface LlmGateway {
  route(pathname: string): HttpHandler | undefined;
  close(): Promise<void>;
}

export interface LlmGatewayDeps {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
  /** Clock for provider eviction (tests pass a controllable one). @default Date.now */
  readonly now?: () => number;
  /**
   * Upstream latency metrics for untraced requests, which the server runs outside the request context.
   * @default the request context's metrics (none outside a request)
   */
  readonly metrics?: Pick<GatewayMetrics, "observeUpstream">;
}

const NO_ATTRIBUTES = {};
/** A provider answer that counts as an error in the upstream latency metrics. */
const providerFailed = (response: UpstreamAnswer) => response.status >= 500 || response.status === 429;

interface CompiledRoute {
  readonly config: LlmRoute;
  readonly prefix: string;
  readonly providers: readonly PreparedProvider[];
  readonly anthropicProviders: readonly PreparedProvider[];
  readonly policy: CompiledGuardPolicy;
  readonly requestGuard: RequestGuard;
  readonly handlers: ReadonlyMap<string, HttpHandler>;
}

export function createLlmGateway(config: ActiveConfig, deps: LlmGatewayDeps): LlmGateway {
  const now = deps.now ?? Date.now;
  const health = new ProviderHealth(now);
  const upstream = createUpstreamClient();
  const maxRequestBytes = config.bundle.server.maxRequestBytes;
  const capturePrompts = config.bundle.telemetry.audit.capturePrompts;
  const policies = new Map(config.bundle.guardPolicies.map((p) => [p.id, compileGuardPolicy(p)]));
  const routes: CompiledRoute[] = [];
  const byPath = new Map<string, HttpHandler>();

  for (const routeConfig of config.bundle.llm.routes) {
    const policy = policies.get(routeConfig.policy);
    if (!policy) throw new Error(`llm.routes "${routeConfig.id}".policy: unknown guard policy "${routeConfig.policy}"`);
    const providers = routeConfig.providers.map((p) => prepareProvider(p, config.secrets));
    const prefix = routeConfig.pathPrefix.replace(/\/+$/, "");
    const partial = {
      config: routeConfig,
      prefix,
      providers,
      anthropicProviders: providers.filter((p) => p.kind === "anthropic"),
      policy,
      requestGuard: createRequestGuard(policy),
    };
    const handlers = new Map<string, HttpHandler>();
    const route: CompiledRoute = { ...partial, handlers };
    handlers.set(`${prefix}/v1/chat/completions`, (ctx, req, res) => chatCompletions(route, ctx, req, res));
    handlers.set(`${prefix}/v1/models`, (ctx, req, res) => models(route, ctx, req, res));
    if (route.anthropicProviders.length > 0)
      handlers.set(`${prefix}/v1/messages`, (ctx, req, res) => anthropicMessages(route, ctx, req, res));
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
    close: () => upstream.close(),
  };

  // ---- handlers --------------------------------------------------------------------------------

  async function chatCompletions(
    route: CompiledRoute,
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (req.method !== "POST")
      return sendError(
        ctx,
        res,
        { status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "use POST" },
        "openai",
        { allow: "POST" },
      );
    return forwardCompletion(route, ctx, req, res, "openai");
  }

  async function anthropicMessages(
    route: CompiledRoute,
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (req.method !== "POST")
      return sendError(
        ctx,
        res,
        { status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "use POST" },
        "anthropic",
        { allow: "POST" },
      );
    return forwardCompletion(route, ctx, req, res, "anthropic");
  }

  /** The shared path of chat.completions (`openai` flavour) and native Messages (`anthropic` flavour). */
  async function forwardCompletion(
    route: CompiledRoute,
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    flavour: ErrorFlavour,
  ): Promise<void> {
    const started = performance.now();
    // Post-redaction prompt in audit events, only when the bundle asks for it (telemetry.audit.capturePrompts).
    const auditExtra: { prompt?: string } = {};
    const audit = auditFor(route, ctx, started, auditExtra);
    // The body, bounded by the bundle's `server.maxRequestBytes` (one over it is drained, so the 413 still arrives).
    let raw: Buffer;
    try {
      raw = await readBody(req, maxRequestBytes);
    } catch (error) {
      const failure: LlmError =
        error instanceof RequestBodyTooLarge
          ? { status: 413, type: "invalid_request_error", code: "request_too_large", message: error.message }
          : badRequest("the request body did not arrive whole");
      return sendError(ctx, res, failure, flavour);
    }
    const body = safeParse(raw.toString("utf8"));
    if (!body || Array.isArray(body)) return sendError(ctx, res, badRequest("the body is not a JSON object"), flavour);
    if (!Array.isArray(body.messages) || typeof body.model !== "string") {
      return sendError(
        ctx,
        res,
        badRequest("expected a JSON body with a string `model` and a `messages` array"),
        flavour,
      );
    }
    const model = body.model as string;

    // Limit: the verified subject's request budget, and its token budget must not be spent.
    // Spans only when the request is traced: with tracing off the stages run directly (no closures, no attribute maps).
    const traced = tracingActive();
    const pendingDecision = traced
      ? span("tollgate.limit", { [ATTR.ROUTE]: route.config.id }, () =>
          deps.limiter.admitRequest(ctx.principal, route.config.policy),
        )
      : deps.limiter.admitRequest(ctx.principal, route.config.policy);
    const decision = pendingDecision instanceof Promise ? await pendingDecision : pendingDecision;
    if (!decision.allowed) {
      audit({
        decision: "rate-limited",
        model,
        rule: `limits: ${route.config.policy}`,
        reason: decision.reason,
        status: 429,
      });
      return sendError(
        ctx,
        res,
        {
          status: 429,
          type: "rate_limit_error",
          code: "rate_limit_exceeded",
          message: `rate limit: ${decision.reason}; retry after ${decision.retryAfterSeconds}s`,
        },
        flavour,
        {
          ...decision.headers,
          "retry-after": String(decision.retryAfterSeconds),
        },
      );
    }

    // Guard the request.
    const guardRequest = () =>
      flavour === "anthropic" ? route.requestGuard.guardAnthropic(body) : route.requestGuard.guardChat(body);
    const guarded = traced
      ? await span("tollgate.guard.request", { [ATTR.ROUTE]: route.config.id }, (s) => {
          const result = guardRequest();
          s.setAttributes(
            result.action === "block"
              ? { [ATTR.GUARD]: result.guard, [ATTR.DECISION]: "block" }
              : { [ATTR.DECISION]: result.redactions ? "redact" : "allow" },
          );
          return result;
        })
      : guardRequest();
    if (guarded.action === "block") {
      audit({ decision: "block", model, rule: `guard: ${guarded.guard}`, status: 400 });
      return sendError(ctx, res, guardBlocked(guarded.guard, guarded.message), flavour, decision.headers);
    }
    if (capturePrompts) auditExtra.prompt = lastUserText(body);
    const stream = body.stream === true;
    const clientWantsUsage = stream && body.stream_options?.include_usage === true;
    const clientAnthropicHeaders = pickHeaders(req, ["anthropic-version", "anthropic-beta"]);

    // Forward with failover: only before anything reached the client.
    const candidates = health.order(flavour === "anthropic" ? route.anthropicProviders : route.providers);
    let lastFailure = "no provider";
    for (const provider of candidates) {
      const upstreamBody =
        flavour === "anthropic"
          ? { ...body, model: provider.mapModel(model) }
          : providerBody(provider, body, model, stream);
      let response: UpstreamAnswer;
      try {
        // Runs inside the upstream span: `traceHeaders` names that span as the provider's parent.
        const send = (): Promise<UpstreamAnswer> => {
          const request: UpstreamRequest = {
            url: provider.completionsUrl,
            method: "POST",
            headers: traced
              ? traceHeaders(provider.headers(flavour === "anthropic" ? clientAnthropicHeaders : undefined))
              : provider.headers(flavour === "anthropic" ? clientAnthropicHeaders : undefined),
            body: JSON.stringify(upstreamBody),
            timeoutMs: provider.config.timeoutMs,
            cancellation: ctx.cancellation,
          };
          // A JSON answer is read whole as it arrives; a stream is relayed as it arrives.
          return stream
            ? upstream.send(request)
            : upstream.fetchWhole({ ...request, maxBytes: route.config.maxResponseBytes });
        };
        // GenAI span attributes only for a traced request.
        const genAi = traced
          ? {
              [ATTR.GEN_AI_SYSTEM]: provider.kind,
              [ATTR.GEN_AI_PROVIDER_NAME]: provider.kind,
              [ATTR.GEN_AI_OPERATION_NAME]: "chat",
              [ATTR.GEN_AI_REQUEST_MODEL]: model,
              [ATTR.PROVIDER]: provider.id,
            }
          : NO_ATTRIBUTES;
        response = await upstreamCall("llm", route.config.id, provider.id, genAi, send, providerFailed, deps.metrics);
      } catch (error) {
        if (!(error instanceof UpstreamUnavailable)) throw error;
        lastFailure = error.kind;
        if (!route.config.failover.on.includes(error.kind)) {
          audit({ decision: "error", provider: provider.id, model, reason: error.kind, status: 502 });
          return sendError(
            ctx,
            res,
            {
              status: 502,
              type: "api_error",
              code: "upstream_unavailable",
              message: `provider "${provider.id}": ${error.kind}`,
            },
            flavour,
            { ...decision.headers, "x-tollgate-provider": provider.id },
          );
        }
        const seconds = health.evict(provider.id, route.config.failover.evictSeconds, undefined);
        audit({ decision: "failover", provider: provider.id, model, reason: `${error.kind}; evicted ${seconds}s` });
        continue;
      }
      const trigger = triggerForStatus(response.status);
      if (trigger && route.config.failover.on.includes(trigger)) {
        await discard(response);
        const seconds = health.evict(
          provider.id,
          route.config.failover.evictSeconds,
          retryAfterSeconds(response.headers["retry-after"], now()),
        );
        lastFailure = `status ${response.status}`;
        audit({
          decision: "failover",
          provider: provider.id,
          model,
          reason: `status ${response.status}; evicted ${seconds}s`,
          status: response.status,
        });
        continue;
      }
      const headers = { "x-request-id": ctx.requestId, ...decision.headers, "x-tollgate-provider": provider.id };
      // The response guard (credential leak, streaming included) runs while the answer is relayed.
      const respondArgs: RespondArgs = {
        route,
        ctx,
        res,
        provider,
        response,
        clientWantsUsage,
        flavour,
        model,
        headers,
        requestRedactions: guarded.redactions,
        audit,
      };
      const usage = traced
        ? await span(
            "tollgate.guard.response",
            { [ATTR.PROVIDER]: provider.id, [ATTR.GEN_AI_REQUEST_MODEL]: model },
            () => respond(respondArgs),
          )
        : await respond(respondArgs);
      const billing =
        usage && usage.input + usage.output > 0
          ? deps.limiter.recordTokens(ctx.principal, route.config.policy, usage.input + usage.output)
          : undefined;
      if (billing) await billing;
      return;
    }
    const retryAfter = health.secondsUntilAnyRecovers(candidates);
    audit({ decision: "error", model, reason: `every provider failed (last: ${lastFailure})`, status: 503 });
    return sendError(
      ctx,
      res,
      {
        status: 503,
        type: "api_error",
        code: "providers_unavailable",
        message: `every provider of route "${route.config.id}" failed (last: ${lastFailure}); retry later`,
      },
      flavour,
      {
        ...decision.headers,
        "retry-after": String(retryAfter),
      },
    );
  }

  interface RespondArgs {
    route: CompiledRoute;
    ctx: RequestContext;
    res: ServerResponse;
    provider: PreparedProvider;
    response: UpstreamAnswer;
    clientWantsUsage: boolean;
    flavour: ErrorFlavour;
    model: string;
    headers: Record<string, string>;
    requestRedactions: Record<string, number> | undefined;
    audit: (event: Partial<AuditEvent> & Pick<AuditEvent, "decision">) => void;
  }

  /** Sends the committed provider's answer to the client; returns the usage to bill. */
  async function respond(args: RespondArgs): Promise<{ input: number; output: number } | undefined> {
    const { route, ctx, res, provider, response, flavour, model, headers, audit } = args;
    const translate = provider.kind === "anthropic" && flavour === "openai";
    const contentType = String(response.headers["content-type"] ?? "");

    // Provider errors that are not failover triggers (4xx): relay them in the client's shape.
    if (response.status >= 400) {
      const whole = await readWhole(response, route.config.maxResponseBytes);
      let text = "bytes" in whole ? whole.bytes.toString("utf8") : "{}";
      if (translate) text = JSON.stringify(anthropicErrorToOpenAi(safeParse(text), response.status));
      audit({
        decision: "error",
        provider: provider.id,
        model,
        status: response.status,
        reason: "provider refused the request",
      });
      res.writeHead(response.status, {
        ...headers,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
      return undefined;
    }

    if (response.kind === "stream" && contentType.includes("text/event-stream")) {
      res.writeHead(200, {
        ...headers,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      });
      // No flushHeaders(): the status line goes out with the first event, which follows at once.
      const leak = route.policy.credentialLeak;
      const newScanner = leak
        ? () => createStreamingCredentialScanner({ mode: leak.mode, holdBackChars: leak.holdBackChars })
        : undefined;
      const relayArgs = { res, body: response.body, newScanner, clientWantsUsage: args.clientWantsUsage };
      const outcome: StreamOutcome =
        flavour === "anthropic"
          ? await relayAnthropicNative(relayArgs)
          : translate
            ? await relayAnthropicAsOpenAi(relayArgs)
            : await relayOpenAiStream(relayArgs);
      if (outcome.blocked || outcome.broken) response.body.destroy();
      if (!res.writableEnded) res.end();
      const redactions = merge(args.requestRedactions, outcome.redactions);
      audit({
        decision: outcome.blocked ? "block" : redactions ? "redact" : outcome.broken ? "error" : "allow",
        provider: provider.id,
        model,
        status: 200,
        ...(outcome.blocked ? { rule: `guard: ${outcome.blocked.guard}` } : {}),
        ...(outcome.broken ? { reason: "stream ended early" } : {}),
        ...(redactions ? { redactions } : {}),
        tokensIn: outcome.usage?.input,
        tokensOut: outcome.usage?.output,
      });
      return outcome.usage;
    }

    const whole = response.kind === "whole" ? response.body : await readWhole(response, route.config.maxResponseBytes);
    if ("failure" in whole) {
      const tooLarge = whole.failure === "too-large";
      audit({
        decision: "error",
        provider: provider.id,
        model,
        status: 502,
        reason: tooLarge ? "response too large" : "response body failed",
      });
      sendError(
        ctx,
        res,
        {
          status: 502,
          type: "api_error",
          code: tooLarge ? "response_too_large" : "upstream_error",
          message: tooLarge
            ? `provider response over ${route.config.maxResponseBytes} bytes`
            : "provider response failed",
        },
        flavour,
        headers,
      );
      return undefined;
    }
    const rawText = whole.bytes.toString("utf8");
    const parsed = safeParse(rawText);
    if (!parsed) {
      audit({ decision: "error", provider: provider.id, model, status: 502, reason: "provider answered non-JSON" });
      sendError(
        ctx,
        res,
        {
          status: 502,
          type: "api_error",
          code: "upstream_error",
          message: "provider answered with something other than JSON",
        },
        flavour,
        headers,
      );
      return undefined;
    }
    const payload = translate ? messagesToChatResponse(parsed, Math.floor(now() / 1000)) : parsed;
    const usage =
      provider.kind === "anthropic" && !translate
        ? anthropicUsage(payload.usage)
        : { input: Number(payload.usage?.prompt_tokens ?? 0), output: Number(payload.usage?.completion_tokens ?? 0) };

    // Guard the response text.
    let changed = translate;
    let responseRedactions: Record<string, number> | undefined;
    if (route.policy.credentialLeak) {
      const texts = flavour === "anthropic" ? anthropicTexts(payload) : chatTexts(payload);
      for (const { get, set } of texts) {
        const pending = route.policy.guardResponseText(get());
        const verdict = pending instanceof Promise ? await pending : pending;
        if (verdict.action === "block") {
          audit({
            decision: "block",
            provider: provider.id,
            model,
            rule: `guard: ${verdict.guard}`,
            status: 403,
            tokensIn: usage.input,
            tokensOut: usage.output,
          });
          sendError(ctx, res, responseGuardBlocked(verdict.guard, verdict.message), flavour, headers);
          return usage;
        }
        if (verdict.redactions) responseRedactions = merge(responseRedactions, verdict.redactions);
        if (verdict.value !== get()) {
          set(verdict.value);
          changed = true;
        }
      }
    }
    // A string body leaves with the status line and headers in one write (a Buffer would make it a writev of two).
    const text = changed ? JSON.stringify(payload) : rawText;
    res.writeHead(200, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
    const redactions = merge(args.requestRedactions, responseRedactions);
    audit({
      decision: redactions ? "redact" : "allow",
      provider: provider.id,
      model,
      status: 200,
      ...(redactions ? { redactions } : {}),
      tokensIn: usage.input,
      tokensOut: usage.output,
    });
    return usage;
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
    const wantsAnthropic = req.headers["anthropic-version"] !== undefined;
    for (const provider of health.order(route.providers)) {
      try {
        const response = await upstream.fetchWhole({
          url: provider.modelsUrl,
          method: "GET",
          headers: provider.headers(pickHeaders(req, ["anthropic-version"])),
          timeoutMs: provider.config.timeoutMs,
          cancellation: ctx.cancellation,
          maxBytes: route.config.maxResponseBytes,
        });
        if (response.status >= 500 || response.status === 429 || "failure" in response.body) continue;
        let text = response.body.bytes.toString("utf8");
        if (response.status < 300 && provider.kind === "anthropic" && !wantsAnthropic)
          text = JSON.stringify(anthropicModelsToOpenAi(safeParse(text) ?? {}));
        res.writeHead(response.status, {
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
    );
  }

  function auditFor(route: CompiledRoute, ctx: RequestContext, started: number, extra: { prompt?: string } = {}) {
    return (event: Partial<AuditEvent> & Pick<AuditEvent, "decision">) =>
      deps.audit.record({
        ...extra,
        kind: "llm",
        principal: ctx.principal.subject,
        client: ctx.principal.clientId,
        route: route.config.id,
        requestId: ctx.requestId,
        traceId: ctx.traceId,
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
        ...event,
      });
  }
}

/** The chat.completions body for one provider: model mapped; Anthropic translated; usage requested on streams. */
function providerBody(provider: PreparedProvider, body: Json, model: string, stream: boolean): Json {
  const mapped = provider.mapModel(model);
  if (provider.kind === "anthropic") return chatToMessagesRequest(body, mapped);
  const out: Json = { ...body, model: mapped };
  if (stream) out.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
  return out;
}

/** The last user message's text (after the request guards ran on it). */
function lastUserText(body: Json): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const content = messages[i]?.role === "user" ? messages[i]?.content : undefined;
    if (typeof content === "string") return content;
    if (Array.isArray(content))
      return (content as Json[]).map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  }
  return "";
}

type TextSlot = { get(): string; set(value: string): void };

function chatTexts(payload: Json): TextSlot[] {
  const slots: TextSlot[] = [];
  for (const choice of (payload.choices ?? []) as Json[]) {
    const message = choice?.message;
    if (message && typeof message.content === "string")
      slots.push({ get: () => message.content, set: (v) => (message.content = v) });
    for (const call of (message?.tool_calls ?? []) as Json[]) {
      if (call?.function && typeof call.function.arguments === "string")
        slots.push({ get: () => call.function.arguments, set: (v) => (call.function.arguments = v) });
    }
  }
  return slots;
}

function anthropicTexts(payload: Json): TextSlot[] {
  const slots: TextSlot[] = [];
  for (const block of (payload.content ?? []) as Json[]) {
    if (block?.type === "text" && typeof block.text === "string")
      slots.push({ get: () => block.text, set: (v: string) => (block.text = v) });
    else if (block?.type === "tool_use" && block.input && typeof block.input === "object")
      stringSlots(block.input, slots, 0);
  }
  return slots;
}

/** Every string leaf of a JSON value (tool input), as slots. */
function stringSlots(node: Json, slots: TextSlot[], depth: number): void {
  if (depth > 32) return;
  for (const key of Object.keys(node)) {
    const value: unknown = node[key];
    if (typeof value === "string") slots.push({ get: () => node[key], set: (v: string) => (node[key] = v) });
    else if (value && typeof value === "object") stringSlots(value as Json, slots, depth + 1);
  }
}

function merge(
  a: Record<string, number> | undefined,
  b: Readonly<Record<string, number>> | undefined,
): Record<string, number> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v;
  return Object.keys(out).length > 0 ? out : undefined;
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

function pickHeaders(req: IncomingMessage, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

function safeParse(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}
