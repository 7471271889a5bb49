/**
 * Upstream HTTP with undici: one pooled keep-alive Agent per loaded bundle, shared by the LLM providers and
 * the MCP upstreams and closed with the runtime that owns it; a time-to-headers limit per request
 * (`timeoutMs`), an idle-body limit, and bounded body reads.
 * Both ways to ask go straight through undici's dispatch callbacks (no Node stream or async resource per
 * request): `send` hands back the body as an async iterable (SSE relays), `fetchWhole` reads the answer
 * whole into one Buffer (JSON answers, errors, model lists). Failures before the answer's headers are
 * classified for failover: `timeout` or `connection-error`.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Agent, type Dispatcher, errors as undiciErrors } from "undici";
import type { Cancellation } from "./cancellation.js";

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

/** How a body that started arriving broke off: silence past the idle limit, or anything else. */
export type BodyFailure = "idle" | "broken";

const failureOf = (error: Error): BodyFailure => (error instanceof undiciErrors.BodyTimeoutError ? "idle" : "broken");

interface AnswerHead {
  readonly status: number;
  readonly headers: Readonly<IncomingHttpHeaders>;
}

/** A body still arriving: read it with `for await` (breaking off the loop drops the connection). */
export interface UpstreamBody extends AsyncIterable<Uint8Array> {
  /** Stops reading and drops the connection. */
  destroy(): void;
  /**
   * Waits until the body has bytes to read or ended (`undefined`), or says how it broke off before any
   * byte (nothing is consumed: the reader still gets every chunk).
   */
  firstRead(): Promise<BodyFailure | undefined>;
}

/** An answer whose body is still to be read (`send`). */
export interface StreamingAnswer extends AnswerHead {
  readonly kind: "stream";
  readonly body: UpstreamBody;
}

/** A whole body, or why there is none: over the caller's bound, or the answer broke off after its headers. */
export type WholeBody = { readonly bytes: Buffer } | { readonly failure: "too-large" | BodyFailure };

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
  readonly body?: string | Buffer;
  /** Time to the answer's headers. */
  readonly timeoutMs: number;
  /** Longest silence in the body after the headers. @default BODY_IDLE_MS */
  readonly idleMs?: number;
  /** The client's request: its cancellation aborts the upstream one. */
  readonly cancellation: Cancellation;
}

export interface UpstreamClient {
  /** Resolves at the answer's headers; the body streams in as it arrives. */
  send(request: UpstreamRequest): Promise<StreamingAnswer>;
  /** Reads the answer whole, at most `maxBytes` of body (past that the connection is dropped). */
  fetchWhole(request: UpstreamRequest & { readonly maxBytes: number }): Promise<WholeAnswer>;
  /** The pooled Agent itself, for an adapter that speaks another API over it (the MCP SDK's fetch). */
  readonly dispatcher: Dispatcher;
  /** Closes the pool: after the last request that uses it. */
  close(): Promise<void>;
}

/** Below this time-to-headers limit the gateway keeps its own timer (see `headersDeadline`). */
const PRECISE_BELOW_MS = 5000;

/** Idle time allowed in a response body when the caller names none (LLM routes name theirs). */
const BODY_IDLE_MS = 30_000;

/** How long `close` waits for requests still open before it aborts them. */
const CLOSE_GRACE_MS = 2_000;

/** Body bytes a stream may have waiting for its reader before undici stops reading the socket. */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;

/**
 * undici's own headers timeout runs on coarse fast timers (~0.5-1 s ticks): fine for the usual 30 s,
 * too coarse below PRECISE_BELOW_MS, where a timer of our own calls `expire` instead.
 */
function headersDeadline(
  timeoutMs: number,
  expire: () => void,
): { readonly expired: () => boolean; readonly clear: () => void } {
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
  if (
    timedOut ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new UpstreamUnavailable("timeout", "no response headers in time");
  }
  const code = (error as { code?: string }).code ?? "";
  return new UpstreamUnavailable("connection-error", code || "connection failed");
}

/** What one request's answer is fed to, after its headers. */
interface AnswerSink {
  /** The status and headers arrived; `controller` pauses, resumes or aborts the rest. */
  head(head: AnswerHead, controller: Dispatcher.DispatchController): void;
  data(chunk: Buffer): void;
  end(): void;
  /** The answer broke off after its head (the client went away, the connection failed, a bound was hit). */
  broken(error: Error): void;
}

/**
 * A streamed body fed by undici's callbacks: chunks queue until the reader takes them; past
 * STREAM_HIGH_WATER_BYTES waiting, undici stops reading the socket until the reader catches up.
 */
class DispatchedBody implements UpstreamBody, AnswerSink {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private done = false;
  private failure: Error | undefined;
  private waiting:
    { resolve: (result: IteratorResult<Uint8Array>) => void; reject: (error: Error) => void } | undefined;
  private firstReadWaiting: (() => void) | undefined;
  private controller: Dispatcher.DispatchController | undefined;

  /** `onHead` gets the answer's status and headers when they arrive. */
  constructor(private readonly onHead: (head: AnswerHead) => void) {}

  head(head: AnswerHead, controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.onHead(head);
  }

  data(chunk: Buffer): void {
    this.settleFirstRead();
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve({ value: chunk, done: false });
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    if (this.queued > STREAM_HIGH_WATER_BYTES) this.controller?.pause();
  }

  end(): void {
    this.done = true;
    this.settleWaiting();
    this.settleFirstRead();
  }

  broken(error: Error): void {
    this.done = true;
    this.failure ??= error;
    this.queue.length = 0;
    this.settleWaiting();
    this.settleFirstRead();
  }

  firstRead(): Promise<BodyFailure | undefined> {
    const now = () => (this.queue.length === 0 && this.failure ? failureOf(this.failure) : undefined);
    if (this.queue.length > 0 || this.done) return Promise.resolve(now());
    return new Promise((resolve) => (this.firstReadWaiting = () => resolve(now())));
  }

  private settleFirstRead(): void {
    const waiting = this.firstReadWaiting;
    this.firstReadWaiting = undefined;
    waiting?.();
  }

  destroy(): void {
    if (this.done) return;
    this.broken(new Error("the gateway stopped reading the answer"));
    this.controller?.abort(this.failure as Error);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        const chunk = this.queue.shift();
        if (chunk) {
          this.queued -= chunk.byteLength;
          if (this.controller?.paused && this.queued <= STREAM_HIGH_WATER_BYTES) this.controller.resume();
          return Promise.resolve({ value: chunk, done: false });
        }
        if (this.failure) return Promise.reject(this.failure);
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
      },
      // A reader that leaves the loop early is done with the answer.
      return: () => {
        this.destroy();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private settleWaiting(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    if (this.failure) waiting.reject(this.failure);
    else waiting.resolve({ value: undefined, done: true });
  }
}

export function createUpstreamClient(): UpstreamClient {
  const agent = new Agent({
    connections: 256,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 300_000,
    pipelining: 1,
    connect: { timeout: 10_000 },
  });
  // Provider URLs are a handful of constants: parsed once, not per request.
  const targets = new Map<string, { readonly origin: string; readonly path: string }>();
  const target = (url: string) => {
    let found = targets.get(url);
    if (!found) {
      const parsed = new URL(url);
      found = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (targets.size < 1024) targets.set(url, found);
    }
    return found;
  };

  /**
   * Sends `request` straight through undici's dispatch callbacks (no body stream, no async resource):
   * a failure before the answer's head rejects (`UpstreamUnavailable`, or the client's abort as it is),
   * everything after it goes to `sink`. The client's cancellation aborts the request until the answer ended.
   */
  const dispatch = (request: UpstreamRequest, sink: AnswerSink, failBeforeHead: (error: unknown) => void): void => {
    const { cancellation } = request;
    let controller: Dispatcher.DispatchController | undefined;
    let headed = false;
    let finished = false;
    let cancelledWith: Error | undefined;
    const abort = (reason: Error) => controller?.abort(reason);
    const deadline = headersDeadline(request.timeoutMs, () => abort(new undiciErrors.HeadersTimeoutError()));
    const { origin, path } = target(request.url);
    const unsubscribe = cancellation.onCancel((reason) => {
      cancelledWith = reason;
      abort(reason);
    });
    const finish = () => {
      finished = true;
      deadline.clear();
      unsubscribe();
    };
    agent.dispatch(
      {
        origin,
        path,
        method: request.method,
        headers: request.headers,
        body: request.body ?? null,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.idleMs ?? BODY_IDLE_MS,
      },
      {
        onRequestStart(started) {
          controller = started;
          if (cancelledWith) abort(cancelledWith);
        },
        onResponseStart(started, status, headers) {
          if (status < 200) return; // 1xx: the answer is still to come
          deadline.clear();
          headed = true;
          sink.head({ status, headers }, started);
        },
        onResponseData(_, chunk) {
          sink.data(chunk);
        },
        onResponseEnd() {
          finish();
          sink.end();
        },
        onResponseError(_, error) {
          if (finished) return;
          const timedOut = deadline.expired();
          finish();
          if (headed) sink.broken(error);
          else failBeforeHead(cancellation.cancelled ? error : unavailable(error, timedOut));
        },
      },
    );
  };

  return {
    send(request) {
      return new Promise((resolve, reject) => {
        const body: DispatchedBody = new DispatchedBody((head) => resolve({ kind: "stream", ...head, body }));
        dispatch(request, body, reject);
      });
    },

    fetchWhole(request) {
      const { maxBytes } = request;
      return new Promise((resolve, reject) => {
        let head: AnswerHead = { status: 0, headers: {} };
        let controller: Dispatcher.DispatchController | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        dispatch(
          request,
          {
            head: (answerHead, started) => {
              head = answerHead;
              controller = started;
            },
            data: (chunk) => {
              size += chunk.byteLength;
              if (size > maxBytes)
                return controller?.abort(new ResponseTooLarge(`upstream response over ${maxBytes} bytes`));
              chunks.push(chunk);
            },
            end: () =>
              resolve({
                kind: "whole",
                ...head,
                body: { bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) },
              }),
            broken: (error) =>
              resolve({
                kind: "whole",
                ...head,
                body: { failure: error instanceof ResponseTooLarge ? "too-large" : failureOf(error) },
              }),
          },
          reject,
        );
      });
    },

    dispatcher: agent,
    async close() {
      // A body nobody reads any more must not hold the shutdown open: past the grace period the pool is
      // destroyed, which aborts what is left.
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
      await Promise.race([agent.close(), grace]);
      clearTimeout(timer);
      await agent.destroy().catch(() => undefined);
    },
  };
}

/** The whole body of either kind of answer, at most `maxBytes` (a streamed body over it is dropped). */
export async function readWhole(answer: UpstreamAnswer, maxBytes: number): Promise<WholeBody> {
  if (answer.kind === "whole") return answer.body;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of answer.body) {
      size += chunk.byteLength;
      if (size > maxBytes) return { failure: "too-large" }; // leaving the loop drops the connection
      chunks.push(chunk);
    }
  } catch (error) {
    return { failure: failureOf(error as Error) };
  }
  return { bytes: Buffer.concat(chunks, size) };
}

/** Small enough to read to its end so the connection goes back to the pool; larger ones are dropped. */
const DISCARD_READ_BYTES = 64 * 1024;

/** Drops an answer we will not use (a failover trigger). */
export async function discard(answer: UpstreamAnswer): Promise<void> {
  await readWhole(answer, DISCARD_READ_BYTES);
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
