/**
 * Audit events: one JSON line per decision. Field names are stable (dashboards and SIEM rules key on
 * them). A token, a secret or an unredacted prompt never becomes a field: events are built from typed
 * values only, never from raw headers or bodies.
 */
import pino, { type Logger } from "pino";

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
  readonly traceId?: string;
  readonly requestId?: string;
  /** Post-redaction prompt, only when the bundle's telemetry.audit.capturePrompts is on. */
  readonly prompt?: string;
  /** Counts of what guards changed (e.g. { email: 2 }), never the matched text. */
  readonly redactions?: Readonly<Record<string, number>>;
}

export interface AuditLog {
  record(event: AuditEvent): void;
}

/** Audit lines on a destination stream (stdout by default), as `{"time":…,"msg":"audit",…}` JSON. */
export function createAuditLog(destination: NodeJS.WritableStream = process.stdout): AuditLog {
  const logger: Logger = pino(
    { base: null, messageKey: "msg", timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: () => ({}) } },
    destination as pino.DestinationStream,
  );
  return { record: (event) => logger.info({ audit: true, ...event }, "audit") };
}

/** An audit log that keeps events in memory: for tests and `tollgate explain`. */
export function createMemoryAuditLog(): AuditLog & { readonly events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: (event) => events.push(event) };
}
