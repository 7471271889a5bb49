/**
 * Upstream HTTP to the LLM providers with undici: one pooled keep-alive Agent per gateway, a
 * time-to-headers limit per provider (`timeoutMs`), an idle-body limit, and bounded body reads.
 * Two ways to ask: `send` hands back the body as a stream (SSE relays), `fetchWhole` reads the answer
 * whole into one Buffer straight from undici's dispatch callbacks (JSON answers, errors, model lists:
 * no stream, async resource or promise per chunk on the way). Failures before the answer's headers are
 * classified for failover: `timeout` or `connection-error`.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { Agent, type Dispatcher, errors as undiciErrors } from "undici";
import { readBody } from "../http/read-body";

export type UpstreamFailureKind = "timeout" | "connection-error";

export class UpstreamUnavailable extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
  ) {
    super(message);
  }
}

export class ResponseTooLarge extends Error {}

interface AnswerHead {
  readonly status: number;
  readonly headers: Readonly<IncomingHttpHeaders>;
}

/** An answer whose body is still to be read (`send`). */
export interface StreamingAnswer extends AnswerHead {
  readonly kind: "stream";
  readonly body: Dispatcher.ResponseData["body"];
}

/** A whole body, or why there is none: over the caller's bound, or the answer broke off after its headers. */
export type WholeBody = { readonly bytes: Buffer } | { readonly failure: "too-large" | "broken" };

/** An answer read to its end (`fetchWhole`). */
export interface WholeAnswer extends AnswerHead {
  readonly kind: "whole";
  readonly body: WholeBody;
}

export type UpstreamAnswer = StreamingAnswer | WholeAnswer;

export interface UpstreamRequest {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Time to the answer's headers. */
  readonly timeoutMs: number;
  /** The client's request: its end aborts the upstream one. */
  readonly signal: AbortSignal;
}

export interface UpstreamClient {
  send(request: UpstreamRequest): Promise<StreamingAnswer>;
  /** Reads the answer whole, at most `maxBytes` of body (past that the connection is dropped). */
  fetchWhole(request: UpstreamRequest & { readonly maxBytes: number }): Promise<WholeAnswer>;
  close(): Promise<void>;
}

/** Below this time-to-headers limit the gateway keeps its own timer (see `headersDeadline`). */
const PRECISE_BELOW_MS = 5000;

/** Idle time allowed between body chunks of a streaming response. */
const BODY_IDLE_MS = 120_000;

/**
 * undici's own headers timeout runs on coarse fast timers (~0.5-1 s ticks): fine for the usual 30 s,
 * too coarse below PRECISE_BELOW_MS, where a timer of our own calls `expire` instead.
 */
function headersDeadline(timeoutMs: number, expire: () => void): { readonly expired: () => boolean; readonly clear: () => void } {
  if (timeoutMs >= PRECISE_BELOW_MS) return { expired: () => false, clear: () => undefined };
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    expire();
  }, timeoutMs);
  return { expired: () => expired, clear: () => clearTimeout(timer) };
}

/** A failure before the answer's headers, as failover sees it. */
function unavailable(error: unknown, timedOut: boolean): UpstreamUnavailable {
  if (timedOut || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.ConnectTimeoutError) {
    return new UpstreamUnavailable("timeout", "no response headers in time");
  }
  const code = (error as { code?: string }).code ?? "";
  return new UpstreamUnavailable("connection-error", code || "connection failed");
}

export function createUpstreamClient(): UpstreamClient {
  const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000, pipelining: 1, connect: { timeout: 10_000 } });
  // Provider URLs are a handful of constants: parsed once, not per request.
  const targets = new Map<string, { readonly origin: string; readonly path: string }>();
  const dispatchOptions = ({ url, method, headers, body, timeoutMs }: UpstreamRequest): Dispatcher.DispatchOptions => {
    let found = targets.get(url);
    if (!found) {
      const parsed = new URL(url);
      found = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (targets.size < 1024) targets.set(url, found);
    }
    return { origin: found.origin, path: found.path, method, headers, body: body ?? null, headersTimeout: timeoutMs, bodyTimeout: BODY_IDLE_MS };
  };

  return {
    async send(request) {
      const { signal } = request;
      const own = request.timeoutMs < PRECISE_BELOW_MS ? new AbortController() : undefined;
      const deadline = headersDeadline(request.timeoutMs, () => own?.abort());
      // The listener stays for the whole response: a client that goes away mid-stream aborts the body.
      if (own) signal.addEventListener("abort", () => own.abort(), { once: true });
      try {
        const response = await agent.request({ ...dispatchOptions(request), signal: own?.signal ?? signal });
        return { kind: "stream", status: response.statusCode, headers: response.headers, body: response.body };
      } catch (error) {
        if (signal.aborted) throw error;
        throw unavailable(error, deadline.expired());
      } finally {
        deadline.clear();
      }
    },

    fetchWhole(request) {
      const { signal, maxBytes } = request;
      return new Promise<WholeAnswer>((resolve, reject) => {
        let controller: Dispatcher.DispatchController | undefined;
        let head: AnswerHead | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const abort = (reason: Error) => controller?.abort(reason);
        const onClientAbort = () => abort(signal.reason instanceof Error ? signal.reason : new Error("the client went away"));
        const deadline = headersDeadline(request.timeoutMs, () => abort(new undiciErrors.HeadersTimeoutError()));
        const settle = (outcome: () => void) => {
          if (settled) return;
          settled = true;
          deadline.clear();
          signal.removeEventListener("abort", onClientAbort);
          outcome();
        };
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart(started) {
            controller = started;
            if (signal.aborted) onClientAbort();
          },
          onResponseStart(_, status, headers) {
            if (status < 200) return; // 1xx: the answer is still to come
            deadline.clear();
            head = { status, headers };
          },
          onResponseData(_, chunk) {
            size += chunk.byteLength;
            if (size > maxBytes) return abort(new ResponseTooLarge(`upstream response over ${maxBytes} bytes`));
            chunks.push(chunk);
          },
          onResponseEnd() {
            const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
            settle(() => resolve({ kind: "whole", status: head?.status ?? 0, headers: head?.headers ?? {}, body: { bytes } }));
          },
          onResponseError(_, error) {
            settle(() => {
              if (!head) return reject(signal.aborted ? error : unavailable(error, deadline.expired()));
              resolve({ kind: "whole", ...head, body: { failure: error instanceof ResponseTooLarge ? "too-large" : "broken" } });
            });
          },
        };
        signal.addEventListener("abort", onClientAbort, { once: true });
        agent.dispatch(dispatchOptions(request), handler);
      });
    },

    close: () => agent.close(),
  };
}

const ignore = () => undefined;

/** The whole body of either kind of answer, at most `maxBytes` (a streamed body over it is destroyed). */
export async function readWhole(answer: UpstreamAnswer, maxBytes: number): Promise<WholeBody> {
  if (answer.kind === "whole") return answer.body;
  try {
    const bytes = await readBody(
      answer.body,
      maxBytes,
      (tooLarge) => {
        tooLarge.once("error", ignore); // undici's body reports its own destruction as an AbortError
        tooLarge.destroy();
        return new ResponseTooLarge(`upstream response over ${maxBytes} bytes`);
      },
      "the upstream body closed before it ended",
    );
    return { bytes };
  } catch (error) {
    return { failure: error instanceof ResponseTooLarge ? "too-large" : "broken" };
  }
}

/** Drops an answer we will not read, so the connection goes back to the pool. */
export async function discard(answer: UpstreamAnswer): Promise<void> {
  if (answer.kind === "whole") return;
  try {
    await answer.body.dump();
  } catch {
    // the connection is discarded instead
  }
}

/** `Retry-After` in seconds (delta-seconds or HTTP date), if present and sane. */
export function retryAfterSeconds(value: string | string[] | undefined, now: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Math.min(Number(raw.trim()), 86_400);
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.min(Math.ceil((date - now) / 1000), 86_400));
}
