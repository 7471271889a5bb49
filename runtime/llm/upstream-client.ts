/**
 * Upstream HTTP to the LLM providers with undici: one pooled keep-alive Agent per gateway, a
 * time-to-headers limit per provider (`timeoutMs`), an idle-body limit, and bounded body reads.
 * Failures are classified for failover: `timeout` or `connection-error`.
 */
import type { Readable } from "node:stream";
import { Agent, errors as undiciErrors } from "undici";
import { readBody } from "../http/read-body";
import type { Dispatcher } from "undici";

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

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Dispatcher.ResponseData["body"];
}

export interface UpstreamClient {
  send(options: {
    url: string;
    method: "GET" | "POST";
    headers: Record<string, string>;
    body?: string;
    timeoutMs: number;
    signal: AbortSignal;
  }): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** Below this time-to-headers limit the gateway keeps its own timer (see `send`). */
const PRECISE_BELOW_MS = 5000;

/** Idle time allowed between body chunks of a streaming response. */
const BODY_IDLE_MS = 120_000;

export function createUpstreamClient(): UpstreamClient {
  const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000, pipelining: 1, connect: { timeout: 10_000 } });
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
  return {
    async send({ url, method, headers, body, timeoutMs, signal }) {
      // undici's own headers timeout runs on coarse fast timers (~0.5-1 s ticks): fine for the usual
      // 30 s, too coarse below PRECISE_BELOW_MS, where a timer of our own aborts the attempt.
      const precise = timeoutMs < PRECISE_BELOW_MS;
      const controller = precise ? new AbortController() : undefined;
      let timedOut = false;
      const timer = controller
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs)
        : undefined;
      // The listener stays for the whole response: a client that goes away mid-stream aborts the body.
      if (controller) signal.addEventListener("abort", () => controller.abort(), { once: true });
      try {
        const { origin, path } = target(url);
        const response = await agent.request({ origin, path, method, headers, body: body ?? null, headersTimeout: timeoutMs, bodyTimeout: BODY_IDLE_MS, signal: controller?.signal ?? signal });
        return { status: response.statusCode, headers: response.headers, body: response.body };
      } catch (error) {
        if (signal.aborted) throw error;
        if (timedOut || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.ConnectTimeoutError) {
          throw new UpstreamUnavailable("timeout", "no response headers in time");
        }
        const code = (error as { code?: string }).code ?? "";
        throw new UpstreamUnavailable("connection-error", code || "connection failed");
      } finally {
        if (timer) clearTimeout(timer);
      }
    },
    close: () => agent.close(),
  };
}

const ignore = () => undefined;

/** Reads a provider's whole answer, refusing more than `maxBytes` (the body is destroyed then). */
export function readBounded(body: Readable, maxBytes: number): Promise<Buffer> {
  return readBody(
    body,
    maxBytes,
    (tooLarge) => {
      tooLarge.once("error", ignore); // undici's body reports its own destruction as an AbortError
      tooLarge.destroy();
      return new ResponseTooLarge(`upstream response over ${maxBytes} bytes`);
    },
    "the upstream body closed before it ended",
  );
}

/** Drops a body we will not read, so the connection goes back to the pool. */
export async function discard(body: { dump?: () => Promise<void>; destroy?: () => unknown }): Promise<void> {
  try {
    if (body.dump) await body.dump();
    else body.destroy?.();
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
