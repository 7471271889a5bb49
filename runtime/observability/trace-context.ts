/**
 * W3C trace context (https://www.w3.org/TR/trace-context/) for upstream requests when the gateway does not
 * trace. A traced request's upstream calls carry the gateway's own span as parent (./tracing.ts); an untraced
 * one forwards the client's `traceparent` and `tracestate` unchanged: the gateway records no span, so naming
 * a new parent id would point the provider's spans at a span no backend will ever hold, while the client's
 * own span is a real parent. A request without a valid `traceparent` starts a trace: new trace and parent
 * ids, flags `00` (nothing was recorded or sampled here), so the upstream can still correlate its logs.
 */
import { randomFillSync } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export interface TraceContextHeaders {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/**
 * `version-traceid-parentid-flags`, lowercase hex. A later version may append fields after a `-`: only the
 * four known ones are read, and the value is forwarded as version 00 (what the spec asks of a version-00
 * implementation that passes on a later version).
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_PARENT_ID = "0".repeat(16);
/** List members are printable ASCII; the spec caps what a vendor must propagate at 512 characters. */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/** The client's `traceparent` when valid: normalised to version 00, or `undefined`. */
export function parseTraceparent(value: string | string[] | undefined): string | undefined {
  // Node joins repeated headers with ", ", which no valid value contains: two traceparents are invalid.
  if (typeof value !== "string") return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_PARENT_ID) return undefined;
  return `00-${traceId}-${parentId}-${flags}`;
}

/** A new trace: random trace and parent ids, not sampled. */
export function newTraceparent(): string {
  const bytes = randomHex(24);
  return `00-${bytes.slice(0, 32)}-${bytes.slice(32)}-00`;
}

/** Random bytes drawn 6 KiB at a time: a `randomBytes` call per request costs a system call per request. */
const RANDOM_POOL = Buffer.alloc(6 * 1024);
let randomOffset = RANDOM_POOL.length;

function randomHex(bytes: number): string {
  if (randomOffset + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return RANDOM_POOL.toString("hex", randomOffset - bytes, randomOffset);
}

/** The trace context an untraced request passes upstream: the client's when valid, else a new trace. */
export function untracedTraceContext(headers: IncomingHttpHeaders): TraceContextHeaders {
  const traceparent = parseTraceparent(headers.traceparent);
  if (!traceparent) return { traceparent: newTraceparent() };
  const tracestate = headers.tracestate;
  return typeof tracestate === "string" && TRACESTATE.test(tracestate) ? { traceparent, tracestate } : { traceparent };
}
