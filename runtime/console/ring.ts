/**
 * The console's memory of recent decisions: the last N audit events, oldest overwritten first. Fed from
 * the audit log's `onRecord` hook, so it sees events after scrubbing. It keeps only the fields the console
 * shows: a `prompt` (present when an operator turned prompt capture on) is never stored.
 */
import type { AuditDecision, AuditEvent } from "../observability/audit.js";

/** An audit event as the ring keeps it: when, and the fields the decisions page shows. */
export interface RecordedDecision {
  readonly at: number;
  readonly decision: AuditDecision;
  readonly kind: AuditEvent["kind"];
  readonly principal?: string;
  readonly client?: string;
  readonly route?: string;
  readonly upstream?: string;
  readonly model?: string;
  readonly tool?: string;
  readonly method?: string;
  readonly rule?: string;
  readonly reason?: string;
  readonly status?: number;
  readonly traceId?: string;
}

/** Filters of the decisions page; a field left out matches everything. */
export interface DecisionFilter {
  readonly decision?: AuditDecision;
  /** Exact `sub`. */
  readonly principal?: string;
  /** Substring of the tool name or the model. */
  readonly tool?: string;
}

export interface DecisionRing {
  /** The audit log's `onRecord` hook. */
  record(event: AuditEvent): void;
  /** Matching decisions, newest first, at most `limit`. */
  list(filter?: DecisionFilter, limit?: number): RecordedDecision[];
  readonly capacity: number;
  readonly size: number;
}

const KEPT = [
  "principal",
  "client",
  "route",
  "upstream",
  "model",
  "tool",
  "method",
  "rule",
  "reason",
  "traceId",
] as const;

function keep(event: AuditEvent, at: number): RecordedDecision {
  const out: Record<string, unknown> = { at, decision: event.decision, kind: event.kind };
  for (const field of KEPT) if (typeof event[field] === "string") out[field] = event[field];
  if (typeof event.status === "number") out.status = event.status;
  return out as unknown as RecordedDecision;
}

function matches(entry: RecordedDecision, filter: DecisionFilter): boolean {
  if (filter.decision !== undefined && entry.decision !== filter.decision) return false;
  if (filter.principal !== undefined && entry.principal !== filter.principal) return false;
  if (filter.tool !== undefined && !(entry.tool ?? entry.model ?? "").includes(filter.tool)) return false;
  return true;
}

/**
 * @param capacity events kept; the oldest is dropped when a new one arrives. @default 1000
 * @param now the clock stamping events. @default Date.now
 */
export function createDecisionRing(capacity = 1000, now: () => number = Date.now): DecisionRing {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`decision ring capacity: expected a positive integer, got ${capacity}`);
  const slots: (RecordedDecision | undefined)[] = new Array(capacity);
  let next = 0;
  let size = 0;
  return {
    capacity,
    get size() {
      return size;
    },
    record(event) {
      slots[next] = keep(event, now());
      next = (next + 1) % capacity;
      if (size < capacity) size++;
    },
    list(filter = {}, limit = capacity) {
      const out: RecordedDecision[] = [];
      for (let i = 1; i <= size && out.length < limit; i++) {
        const entry = slots[(next - i + capacity) % capacity] as RecordedDecision;
        if (matches(entry, filter)) out.push(entry);
      }
      return out;
    },
  };
}
