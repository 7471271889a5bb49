/**
 * The client side of the gateway's HTTP server: header, request and keep-alive timeouts and the connection
 * cap of the bundle's `server.clients`, applied at start and again on every reload (Node reads them from
 * the server on each connection and each check).
 */
import type { Server, ServerOptions } from "node:http";
import type { Bundle } from "../../policies/bundle/index.js";

/**
 * How often Node looks for connections past their header or request timeout. Its default (30 s) lets a
 * slow-loris client outlive a short header timeout by that much; a sweep a second costs next to nothing.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

type ClientLimits = Bundle["server"]["clients"];

/** Options for `createServer`: what can only be set when the server is made. */
export function serverOptions(limits: ClientLimits): ServerOptions {
  return {
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  };
}

/** Applies `limits` to a running server (new values hold for new requests and the next check). */
export function applyClientLimits(server: Server, limits: ClientLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
}
