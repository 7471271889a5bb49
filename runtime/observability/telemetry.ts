/**
 * One object for everything the request path records: audit lines, metrics, spans.
 *
 * ```ts
 * const telemetry = createTelemetry(bundle.telemetry, { bundle, digest });
 * const admin = await telemetry.serveMetrics();                 // admin port, apart from traffic
 * await telemetry.withSpan("tollgate.authenticate", {}, () => authenticate(req), { incomingHeaders: req.headers });
 * telemetry.injectTraceHeaders(upstreamHeaders);                // W3C traceparent to the upstream
 * telemetry.audit.record({ kind: "llm", decision: "allow", ... });  // also counted in metrics, trace id filled
 * ```
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Bundle } from "../../policies/bundle/index.js";
import {
  type AuditEvent,
  type AuditLog,
  WRITE_PREPARED,
  type AuditWriter,
  createAuditLog,
  flushAuditOutput,
  prepareAuditEvent,
} from "./audit.js";
import {
  createGatewayMetrics,
  type GatewayMetrics,
  type LabelSource,
  type MetricsServer,
  serveMetrics,
} from "./metrics.js";
import { ATTR, createTracing, type SpanAttributes, type Tracing } from "./tracing.js";
import type { SpanExporter } from "@opentelemetry/sdk-trace";

export type TelemetryConfig = Bundle["telemetry"];

export interface TelemetryOptions {
  /** The loaded bundle and its digest: label values and the bundle-info gauge. */
  readonly bundle?: { readonly bundle: LabelSource; readonly digest: string };
  /** Where audit lines go (default stdout). */
  readonly auditDestination?: NodeJS.WritableStream;
  /** Tests: export spans here (e.g. InMemorySpanExporter) instead of the OTEL_* configured exporter. */
  readonly spanExporter?: SpanExporter;
  /** Tests: skip Node's default process metrics. */
  readonly defaultMetrics?: boolean;
  /**
   * Audit sink to use instead of pino lines (e.g. the test's memory log). It receives events already
   * prepared: prompt dropped unless captured, trace id filled, strings scrubbed; metrics still count them.
   */
  readonly auditSink?: AuditLog;
  /** Asked per event whether prompts are captured (follows reloads). @default the config's value */
  readonly capturePrompts?: () => boolean;
  /** Called with every audit event once prepared (scrubbed, prompt dropped unless captured): the console's ring. */
  readonly onAudit?: (event: AuditEvent) => void;
  /** Answers the admin port's `/console` and `/console/...` URLs (before its 404). */
  readonly console?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

export interface Telemetry extends Omit<Tracing, "close" | "enabled"> {
  readonly audit: AuditLog;
  readonly metrics: GatewayMetrics;
  readonly tracingEnabled: boolean;
  /**
   * Starts the admin /metrics server on `telemetry.metrics.port`, or on `port` (0 = any). An explicit `port`
   * (an operator's flag) serves even when the bundle turns the admin server off; without one, off stays off.
   */
  serveMetrics(options?: { port?: number; host?: string }): Promise<MetricsServer | undefined>;
  /** Flushes spans, stops the admin server. */
  close(): Promise<void>;
}

export function createTelemetry(config: TelemetryConfig, options: TelemetryOptions = {}): Telemetry {
  const tracing = createTracing({
    enabled: config.tracing.enabled,
    serviceName: config.tracing.serviceName,
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
  });
  const metrics = createGatewayMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  if (options.bundle) metrics.useBundle(options.bundle.bundle, options.bundle.digest);
  // With tracing off, an audit event only feeds metrics: no span attribute map is built.
  const onAudit = options.onAudit;
  const onRecord = tracing.enabled
    ? (event: AuditEvent) => {
        metrics.observeAudit(event);
        tracing.annotateActive(spanAttributesOf(event), "tollgate.audit");
        onAudit?.(event);
      }
    : onAudit
      ? (event: AuditEvent) => {
          metrics.observeAudit(event);
          onAudit(event);
        }
      : (event: AuditEvent) => metrics.observeAudit(event);
  const auditOptions = {
    capturePrompts: options.capturePrompts ?? config.audit.capturePrompts,
    ...(tracing.enabled ? { currentTraceId: tracing.currentTraceId } : {}),
    onRecord,
  };
  const sink = options.auditSink;
  // Events are prepared once: a sink that writes prepared events (createAuditLog) skips its own pass.
  const writePrepared = sink
    ? ((sink as Partial<AuditWriter>)[WRITE_PREPARED] ?? ((prepared: AuditEvent) => sink.record(prepared)))
    : undefined;
  const audit: AuditLog = writePrepared
    ? {
        record: (event) => {
          const prepared = prepareAuditEvent(event, auditOptions);
          onRecord(prepared);
          writePrepared(prepared);
        },
      }
    : createAuditLog(options.auditDestination ?? process.stdout, auditOptions);
  const servers: MetricsServer[] = [];
  return {
    audit,
    metrics,
    tracer: tracing.tracer,
    tracingEnabled: tracing.enabled,
    withSpan: tracing.withSpan,
    injectTraceHeaders: tracing.injectTraceHeaders,
    currentTraceId: tracing.currentTraceId,
    annotateActive: tracing.annotateActive,
    async serveMetrics(serveOptions = {}) {
      if (!config.metrics.enabled && serveOptions.port === undefined) return undefined;
      const server = await serveMetrics(metrics, {
        port: serveOptions.port ?? config.metrics.port,
        ...(serveOptions.host ? { host: serveOptions.host } : {}),
        ...(options.console ? { console: options.console } : {}),
      });
      servers.push(server);
      return server;
    },
    async close() {
      await Promise.all([tracing.close(), flushAuditOutput(), ...servers.map((s) => s.close())]);
    },
  };
}

/**
 * What an audit event says about the span it happens in: end user, agent, route, model, tokens (GenAI
 * semantic conventions), decision and rule. Never the prompt.
 */
export function spanAttributesOf(event: AuditEvent): SpanAttributes {
  return {
    [ATTR.ENDUSER_ID]: event.principal,
    [ATTR.CLIENT_ID]: event.client,
    [ATTR.ROUTE]: event.route,
    [ATTR.UPSTREAM]: event.upstream,
    [ATTR.PROVIDER]: event.provider,
    [ATTR.GEN_AI_REQUEST_MODEL]: event.model,
    [ATTR.GEN_AI_TOOL_NAME]: event.tool,
    [ATTR.GEN_AI_USAGE_INPUT_TOKENS]: event.tokensIn,
    [ATTR.GEN_AI_USAGE_OUTPUT_TOKENS]: event.tokensOut,
    [ATTR.DECISION]: event.decision,
    [ATTR.RULE]: event.rule,
    "http.response.status_code": event.status,
  };
}
