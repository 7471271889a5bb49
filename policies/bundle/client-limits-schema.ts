/**
 * `server.clients`: how long the gateway waits for a client and how many connections it holds. A gateway
 * sits in front of spend and tools: a client that trickles its request (slow-loris) is cut off quickly,
 * and the connection cap bounds what a flood of idle connections can hold.
 */
import { z } from "zod";

export const CLIENT_LIMIT_DEFAULTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 8192,
} as const;

export function clientLimitsSchema() {
  return z
    .strictObject({
      /** Time for a client to send its request line and headers. */
      headersTimeoutMs: z.int().min(1000).max(120_000).default(CLIENT_LIMIT_DEFAULTS.headersTimeoutMs),
      /** Time for a client to send its whole request (headers and body); the response is not bounded by it. */
      requestTimeoutMs: z.int().min(1000).max(600_000).default(CLIENT_LIMIT_DEFAULTS.requestTimeoutMs),
      /**
       * How long an idle keep-alive connection stays open. Longer than a load balancer's idle timeout (60 s
       * on the usual ones), so the gateway never closes a connection the balancer is about to reuse.
       */
      keepAliveTimeoutMs: z.int().min(1000).max(600_000).default(CLIENT_LIMIT_DEFAULTS.keepAliveTimeoutMs),
      /** Open client connections at most; past it new connections are dropped. */
      maxConnections: z.int().min(16).max(1_000_000).default(CLIENT_LIMIT_DEFAULTS.maxConnections),
    })
    .refine((c) => c.headersTimeoutMs <= c.requestTimeoutMs, {
      error: "headersTimeoutMs must not exceed requestTimeoutMs (the headers are part of the request)",
      path: ["headersTimeoutMs"],
    })
    .default(CLIENT_LIMIT_DEFAULTS);
}
