/**
 * The request's telemetry, reachable from any stage without threading it through every signature:
 * the server runs each request inside {@link withRequestTelemetry}; stages call {@link span},
 * {@link traceHeaders} and {@link observeUpstream}. Outside a request (unit tests of a stage, tools)
 * these are no-ops, so a stage never needs to know whether telemetry is on.
 *
 * ```ts
 * const decision = await span("tollgate.limit", { [ATTR.ROUTE]: route.id }, () => limiter.admitRequest(p, policy));
 * const headers = traceHeaders({ "content-type": "application/json" });   // + traceparent when tracing
 * ```
 *
 * Upstream requests that cannot be handed the request (the MCP SDK's client transport calls its `fetch`
 * with the SDK's own headers only) learn the request's id and trace context from
 * {@link withUpstreamPropagation}, which the server runs MCP requests in; {@link addUpstreamPropagation}
 * adds them to such a request's headers.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { IncomingHttpHeaders } from "node:http";
import type { Telemetry } from "./telemetry.js";
import type { GatewayMetrics } from "./metrics.js";
import { type TraceContextHeaders, untracedTraceContext } from "./trace-context.js";
import { type SafeSpan, type SpanAttributes, SpanKind } from "./tracing.js";

const current = new AsyncLocalStorage<Telemetry>();

const NO_SPAN: SafeSpan = { traceId: "", spanId: "", setAttributes: () => undefined, addEvent: () => undefined };

/** Runs `fn` (a request, or an upstream session's work) with `telemetry` as the current telemetry. */
export function withRequestTelemetry<T>(telemetry: Telemetry, fn: () => T): T {
  return current.run(telemetry, fn);
}

/** The current telemetry, if any. */
export function currentTelemetry(): Telemetry | undefined {
  return current.getStore();
}

/** Whether the current request is traced: stages skip building span attributes when it is not. */
export function tracingActive(): boolean {
  return current.getStore()?.tracingEnabled === true;
}

/** Runs `fn` in a child span of the current one (a no-op span outside a request). */
export function span<T>(name: string, attributes: SpanAttributes, fn: (span: SafeSpan) => Promise<T> | T): Promise<T> {
  const telemetry = current.getStore();
  return telemetry ? telemetry.withSpan(name, attributes, fn) : Promise.resolve().then(() => fn(NO_SPAN));
}

/** Adds the W3C `traceparent`/`tracestate` of the current span to outgoing upstream headers. */
export function traceHeaders<H extends Record<string, string>>(headers: H): H {
  return current.getStore()?.injectTraceHeaders(headers) ?? headers;
}

/** Records one upstream call's latency (no-op outside a request). */
export function observeUpstream(
  kind: "llm" | "mcp",
  target: string,
  provider: string,
  seconds: number,
  outcome: "ok" | "error",
): void {
  current.getStore()?.metrics.observeUpstream(kind, target, provider, seconds, outcome);
}

/** Reports whether an MCP upstream is reachable, to the request's metrics or else to `metrics`. */
export function reportMcpUpstreamHealth(
  upstream: string,
  up: boolean,
  metrics?: Pick<GatewayMetrics, "setMcpUpstreamHealth">,
): void {
  (current.getStore()?.metrics ?? metrics)?.setMcpUpstreamHealth(upstream, up);
}

/**
 * One call to an upstream (LLM provider or MCP upstream): a client span `tollgate.upstream` with the
 * given attributes (GenAI conventions), the latency histogram, and the outcome (`error` when `fn`
 * throws or `isError` says so). Outside a request it just runs `fn`.
 */
export function upstreamCall<T>(
  kind: "llm" | "mcp",
  target: string,
  provider: string,
  attributes: SpanAttributes,
  fn: () => Promise<T>,
  isError: (result: T) => boolean = () => false,
  /** Where latency goes for untraced requests, which run outside the request context. */
  metrics?: Pick<GatewayMetrics, "observeUpstream">,
): Promise<T> {
  const telemetry = current.getStore();
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  if (!telemetry) {
    if (!metrics) return fn();
    // `then` rather than an async wrapper: one promise less on every untraced request.
    return fn().then(
      (result) => {
        metrics.observeUpstream(kind, target, provider, seconds(), isError(result) ? "error" : "ok");
        return result;
      },
      (error: unknown) => {
        metrics.observeUpstream(kind, target, provider, seconds(), "error");
        throw error;
      },
    );
  }
  return telemetry.withSpan(
    "tollgate.upstream",
    attributes,
    async () => {
      try {
        const result = await fn();
        telemetry.metrics.observeUpstream(kind, target, provider, seconds(), isError(result) ? "error" : "ok");
        return result;
      } catch (error) {
        telemetry.metrics.observeUpstream(kind, target, provider, seconds(), "error");
        throw error;
      }
    },
    { kind: SpanKind.CLIENT },
  );
}

/** The request id and the client's trace context, for the upstream requests made while serving one request. */
interface UpstreamPropagation {
  readonly requestId: string;
  readonly incoming: IncomingHttpHeaders;
  /** Decided at the first upstream request, so every upstream request of the client request shares one trace. */
  traceContext: TraceContextHeaders | undefined;
}

const propagation = new AsyncLocalStorage<UpstreamPropagation>();

/**
 * Runs `fn` (the serving of one request) so that every upstream request it makes through
 * {@link addUpstreamPropagation} carries `requestId` and a trace context continued from `incoming`.
 */
export function withUpstreamPropagation<T>(requestId: string, incoming: IncomingHttpHeaders, fn: () => T): T {
  return propagation.run({ requestId, incoming, traceContext: undefined }, fn);
}

/**
 * Adds the request id and trace context of the request being served to an upstream request's `headers`
 * (lowercase names), in place: `x-request-id` always, `traceparent`/`tracestate` unless a traced request's
 * upstream span already set them. Outside {@link withUpstreamPropagation} (an upstream's background
 * reconnect) it adds nothing.
 */
export function addUpstreamPropagation(headers: Record<string, string>): void {
  const scope = propagation.getStore();
  if (scope) propagateTo(headers, scope.requestId, () => (scope.traceContext ??= untracedTraceContext(scope.incoming)));
}

/** Sets `x-request-id` and, unless `traceparent` is already set, the trace context `untraced` gives. */
export function propagateTo(
  headers: Record<string, string>,
  requestId: string,
  untraced: () => TraceContextHeaders,
): void {
  headers["x-request-id"] = requestId;
  if (headers.traceparent !== undefined) return;
  const context = untraced();
  headers.traceparent = context.traceparent;
  if (context.tracestate !== undefined) headers.tracestate = context.tracestate;
}
