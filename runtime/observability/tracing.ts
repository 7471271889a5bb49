/**
 * OpenTelemetry tracing for the request path, without touching OpenTelemetry's globals (several gateways
 * may share one process in tests): the active span is tracked with our own AsyncLocalStorage and the W3C
 * propagator is called directly. Export is configured by the standard variables: `OTEL_TRACES_EXPORTER`
 * (`otlp` default, `console`, `none`), `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`/`HEADERS`/`TIMEOUT`,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`.
 *
 * Span attributes pass through a filter: Authorization headers, cookies, keys and tokens never become
 * attributes, and string values are scrubbed of anything that looks like a credential.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Attributes,
  type AttributeValue,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { isForbiddenKey, scrubText } from "./scrub.js";

/** OpenTelemetry GenAI semantic-convention and end-user attribute names used by the gateway. */
export const ATTR = {
  GEN_AI_SYSTEM: "gen_ai.system",
  GEN_AI_PROVIDER_NAME: "gen_ai.provider.name",
  GEN_AI_OPERATION_NAME: "gen_ai.operation.name",
  GEN_AI_REQUEST_MODEL: "gen_ai.request.model",
  GEN_AI_RESPONSE_MODEL: "gen_ai.response.model",
  GEN_AI_USAGE_INPUT_TOKENS: "gen_ai.usage.input_tokens",
  GEN_AI_USAGE_OUTPUT_TOKENS: "gen_ai.usage.output_tokens",
  GEN_AI_TOOL_NAME: "gen_ai.tool.name",
  ENDUSER_ID: "enduser.id",
  CLIENT_ID: "tollgate.client.id",
  /** The bundle's agent (`agents[].id`) behind the request. */
  AGENT_ID: "tollgate.agent.id",
  ROUTE: "tollgate.route",
  UPSTREAM: "tollgate.upstream",
  PROVIDER: "tollgate.provider",
  DECISION: "tollgate.decision",
  RULE: "tollgate.rule",
  GUARD: "tollgate.guard",
} as const;

/** Attributes accepted by {@link Tracing.withSpan}; `undefined` values are skipped. */
export type SpanAttributes = Readonly<Record<string, AttributeValue | undefined>>;

/** The span handed to a `withSpan` callback: attributes go through the same filter. */
export interface SafeSpan {
  readonly traceId: string;
  readonly spanId: string;
  setAttributes(attributes: SpanAttributes): void;
  addEvent(name: string, attributes?: SpanAttributes): void;
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  /** Incoming request headers: a valid `traceparent` makes this span its child (server spans). */
  readonly incomingHeaders?: Readonly<Record<string, string | string[] | undefined>>;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Runs `fn` inside a span (child of the active one), ending it when `fn` settles; errors mark the span. */
  withSpan<T>(
    name: string,
    attributes: SpanAttributes,
    fn: (span: SafeSpan) => Promise<T> | T,
    options?: SpanOptions,
  ): Promise<T>;
  /** Adds `traceparent` (and `tracestate`) of the active span to outgoing upstream headers; returns them. */
  injectTraceHeaders<H extends Record<string, string>>(headers: H): H;
  /** The active span's trace id, when tracing is on and a span is active. */
  currentTraceId(): string | undefined;
  /**
   * Sets attributes (filtered) on the request's root span, and optionally adds them as an event on the
   * active span (the stage that decided); no-op outside a span.
   */
  annotateActive(attributes: SpanAttributes, event?: string): void;
  /** Flushes pending spans and stops exporting. */
  close(): Promise<void>;
}

export interface TracingOptions {
  readonly enabled: boolean;
  readonly serviceName: string;
  /** Use this exporter (tests: InMemorySpanExporter) with a simple processor instead of the OTEL_* one. */
  readonly spanExporter?: SpanExporter;
  /** Environment to read OTEL_* from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Keeps only safe attributes: no forbidden key, no undefined, credentials scrubbed from strings. */
export function safeAttributes(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || isForbiddenKey(key)) continue;
    out[key] =
      typeof value === "string"
        ? scrubText(value)
        : Array.isArray(value)
          ? (value.map((v) => (typeof v === "string" ? scrubText(v) : v)) as AttributeValue)
          : value;
  }
  return out;
}

function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const ratio = Number(env["OTEL_TRACES_SAMPLER_ARG"] ?? "1");
  const ratioSampler = new TraceIdRatioBasedSampler(Number.isFinite(ratio) ? ratio : 1);
  switch (env["OTEL_TRACES_SAMPLER"]) {
    case "always_off":
      return new AlwaysOffSampler();
    case "always_on":
      return new AlwaysOnSampler();
    case "traceidratio":
      return ratioSampler;
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratioSampler });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function processorsFromEnv(env: NodeJS.ProcessEnv): SpanProcessor[] {
  const names = (env["OTEL_TRACES_EXPORTER"] ?? "otlp").split(",").map((s) => s.trim());
  const processors: SpanProcessor[] = [];
  if (names.includes("otlp")) processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }));
  if (names.includes("console")) processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  return processors;
}

const headerGetter: TextMapGetter<Readonly<Record<string, string | string[] | undefined>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()] ?? carrier[key],
};

/** The span handed to stages when tracing is off. */
const NO_SPAN: SafeSpan = { traceId: "", spanId: "", setAttributes: () => undefined, addEvent: () => undefined };

export function createTracing(options: TracingOptions): Tracing {
  const enabled = options.enabled || options.spanExporter !== undefined;
  const env = options.env ?? process.env;
  const resource = resourceFromAttributes({ "service.name": options.serviceName }).merge(
    detectResources({ detectors: [resourceAttributesEnvDetector, serviceNameEnvDetector] }),
  );
  const provider = new TracerProvider({
    resource,
    sampler: enabled ? (options.spanExporter ? new AlwaysOnSampler() : samplerFromEnv(env)) : new AlwaysOffSampler(),
    spanProcessors: !enabled
      ? []
      : options.spanExporter
        ? [new SimpleSpanProcessor({ exporter: options.spanExporter })]
        : processorsFromEnv(env),
  });
  const tracer = provider.getTracer("tollgate");
  const propagator = new W3CTraceContextPropagator();
  /** The active context, and the root span of the request it belongs to. */
  const active = new AsyncLocalStorage<{ readonly ctx: Context; readonly root: Span }>();

  const wrap = (span: Span): SafeSpan => ({
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    setAttributes: (attributes) => void span.setAttributes(safeAttributes(attributes)),
    addEvent: (name, attributes) => void span.addEvent(name, attributes ? safeAttributes(attributes) : undefined),
  });

  return {
    enabled,
    tracer,
    async withSpan(name, attributes, fn, spanOptions = {}) {
      // Tracing off: no span, no attribute filtering, no context switch; just the stage.
      if (!enabled) return fn(NO_SPAN);
      const store = spanOptions.incomingHeaders ? undefined : active.getStore();
      const parent = spanOptions.incomingHeaders
        ? propagator.extract(ROOT_CONTEXT, spanOptions.incomingHeaders, headerGetter)
        : (store?.ctx ?? ROOT_CONTEXT);
      const span = tracer.startSpan(
        name,
        { attributes: safeAttributes(attributes), kind: spanOptions.kind ?? SpanKind.INTERNAL },
        parent,
      );
      try {
        const result = await active.run({ ctx: trace.setSpan(parent, span), root: store?.root ?? span }, () =>
          fn(wrap(span)),
        );
        return result;
      } catch (error) {
        // The message may come from a peer; scrub it, and never attach the stack's arguments.
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: scrubText(error instanceof Error ? error.message : String(error)),
        });
        span.setAttribute("error.type", error instanceof Error ? error.name : "Error");
        throw error;
      } finally {
        span.end();
      }
    },
    injectTraceHeaders(headers) {
      if (!enabled) return headers;
      const ctx = active.getStore()?.ctx;
      if (ctx && trace.getSpan(ctx)?.spanContext().traceId) {
        propagator.inject(ctx, headers, {
          set: (carrier, key, value) => void ((carrier as Record<string, string>)[key] = value),
        });
      }
      return headers;
    },
    currentTraceId() {
      if (!enabled) return undefined;
      const ctx = active.getStore()?.ctx;
      const spanContext = ctx ? trace.getSpan(ctx)?.spanContext() : undefined;
      return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
    },
    annotateActive(attributes, event) {
      if (!enabled) return;
      const store = active.getStore();
      const span = store ? trace.getSpan(store.ctx) : undefined;
      if (!store || !span) return;
      const safe = safeAttributes(attributes);
      store.root.setAttributes(safe);
      if (event) span.addEvent(event, safe);
    },
    close: () => provider.shutdown(),
  };
}

export { SpanKind };
