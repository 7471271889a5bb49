/**
 * CORS for browser-based MCP clients: only for the bundle's `server.corsOrigins` (`*` allows any).
 * Exposes the headers an MCP client must read: `Mcp-Session-Id` and `WWW-Authenticate`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

const EXPOSED = [
  "Mcp-Session-Id",
  "Mcp-Protocol-Version",
  "WWW-Authenticate",
  "Retry-After",
  "RateLimit",
  "RateLimit-Policy",
  "X-Request-Id",
  "X-Tollgate-Provider",
].join(", ");
const ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Accept",
  "Mcp-Session-Id",
  "Mcp-Protocol-Version",
  "Last-Event-ID",
  "X-Request-Id",
].join(", ");
const ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS";

/** Sets the CORS response headers when the request's Origin is allowed. Returns whether it was. */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (!origin || allowedOrigins.length === 0) return false;
  if (!allowedOrigins.includes("*") && !allowedOrigins.includes(origin)) return false;
  res.setHeader("Access-Control-Allow-Origin", origin);
  res.setHeader("Vary", "Origin");
  res.setHeader("Access-Control-Expose-Headers", EXPOSED);
  return true;
}

/** A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`. */
export function isPreflight(req: IncomingMessage): boolean {
  return req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
}

/** Answers a preflight: 204 with the allowed methods and headers when the origin is allowed, 403 otherwise. */
export function answerPreflight(res: ServerResponse, allowed: boolean): void {
  if (!allowed) {
    res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ error: "origin not allowed" }));
    return;
  }
  res
    .writeHead(204, {
      "Access-Control-Allow-Methods": ALLOWED_METHODS,
      "Access-Control-Allow-Headers": ALLOWED_HEADERS,
      "Access-Control-Max-Age": "600",
    })
    .end();
}

/**
 * DNS-rebinding defence (MCP transport spec): a request that carries an `Origin` must come from the
 * gateway's own origin or a configured CORS origin. Requests without `Origin` (non-browser clients) pass.
 */
export function originAllowed(req: IncomingMessage, publicUrl: string, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowedOrigins.includes("*") || allowedOrigins.includes(origin)) return true;
  try {
    return origin === new URL(publicUrl).origin;
  } catch {
    return false;
  }
}
