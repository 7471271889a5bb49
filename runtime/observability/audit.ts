/**
 * Audit events: one JSON line per decision. Field names are stable (dashboards and SIEM rules key on
 * them). A token, a secret or an unredacted prompt never becomes a field: events are built from typed
 * values only, never from raw headers or bodies; as a last line of defence every string is scrubbed of
 * anything that looks like a token or a known credential format.
 */
import pino, { type Logger } from "pino";
import { scrubValue } from "./scrub";

export type AuditDecision = "allow" | "deny" | "redact" | "block" | "rate-limited" | "failover" | "error";

export interface AuditEvent {
  readonly decision: AuditDecision;
  /** What was decided on: `llm` (a model call), `mcp` (a tool/prompt/resource call or list), `auth`. */
  readonly kind: "llm" | "mcp" | "auth" | "config";
  /** The human: verified `sub`. */
  readonly principal?: string;
  /** The agent: verified `cid`/`azp`. */
  readonly client?: string;
  /** LLM route id or `mcp`. */
  readonly route?: string;
  readonly upstream?: string;
  readonly provider?: string;
  readonly model?: string;
  /** Namespaced tool name, or the MCP method for non-tool calls. */
  readonly tool?: string;
  readonly method?: string;
  /** The rule or guard that decided, e.g. `scope: mcp:write required`, `guard: credential-leak`. */
  readonly rule?: string;
  readonly reason?: string;
  readonly status?: number;
  readonly latencyMs?: number;
  readonly tokensIn?: number;
  readonly tokensOut?: number;
  /** W3C trace id; filled from the active span when the caller leaves it out. */
  readonly traceId?: string;
  readonly requestId?: string;
  /** Post-redaction prompt, only when the bundle's telemetry.audit.capturePrompts is on (dropped otherwise). */
  readonly prompt?: string;
  /** Counts of what guards changed (e.g. { email: 2 }), never the matched text. */
  readonly redactions?: Readonly<Record<string, number>>;
}

export interface AuditLog {
  record(event: AuditEvent): void;
}

export interface AuditOptions {
  /** Keep `prompt` fields (post-redaction). Default false: prompts are dropped. A function is asked per event (hot reload). */
  readonly capturePrompts?: boolean | (() => boolean);
  /** The active trace id, used when an event carries none. */
  readonly currentTraceId?: () => string | undefined;
  /** Called with every recorded event (after scrubbing), e.g. to count it in metrics. */
  readonly onRecord?: (event: AuditEvent) => void;
}

const capture = (options: AuditOptions) => (typeof options.capturePrompts === "function" ? options.capturePrompts() : options.capturePrompts === true);

/** The event as it will be written: prompt dropped unless captured, trace id filled, strings scrubbed. */
export function prepareAuditEvent(event: AuditEvent, options: AuditOptions = {}): AuditEvent {
  const { prompt, ...rest } = event;
  const traceId = event.traceId ?? options.currentTraceId?.();
  return scrubValue({ ...rest, ...(traceId ? { traceId } : {}), ...(capture(options) && prompt !== undefined ? { prompt } : {}) });
}

/** Audit lines on a destination stream (stdout by default), as `{"time":…,"msg":"audit",…}` JSON. */
export function createAuditLog(destination: NodeJS.WritableStream = process.stdout, options: AuditOptions = {}): AuditLog {
  const logger: Logger = pino(
    // `time` comes first through a custom timestamp; the level is dropped (an empty level formatter would
    // make pino write `{,"time"…`, which is not JSON).
    { base: null, messageKey: "msg", timestamp: () => `"time":"${new Date().toISOString()}"`, formatters: { level: () => ({}) } },
    destination as pino.DestinationStream,
  );
  return {
    record: (event) => {
      const prepared = prepareAuditEvent(event, options);
      options.onRecord?.(prepared);
      logger.info({ audit: true, ...prepared }, "audit");
    },
  };
}

/** An audit log that keeps events in memory: for tests and `tollgate explain`. */
export function createMemoryAuditLog(): AuditLog & { readonly events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: (event) => events.push(event) };
}
