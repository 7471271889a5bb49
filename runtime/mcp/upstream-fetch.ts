/**
 * The `fetch` the gateway gives the MCP SDK's streamable-HTTP client transport for its upstreams: undici's
 * `request` on one keep-alive Agent, answered as a WHATWG Response. The SDK only needs status, headers and
 * a body stream; the global fetch adds the Fetch standard's machinery per call (Request objects, header
 * guards, resource timing, its own body streams), a large share of the gateway's CPU per `tools/call`.
 * Redirects are not followed: an upstream's 3xx reaches the SDK as an error (no request leaves for an
 * address the bundle did not name).
 */
import { Readable } from "node:stream";
import { Agent, type Dispatcher, request } from "undici";

/** Statuses whose Response must have a null body (the Fetch standard). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 300_000, pipelining: 1, connect: { timeout: 10_000 } });

function headerRecord(init: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init).forEach((value, name) => (out[name] = value));
  return out;
}

function responseHeaders(headers: Dispatcher.ResponseData["headers"]): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const one of value) out.append(name, one);
    else out.append(name, value);
  }
  return out;
}

export const upstreamFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  if (input instanceof Request) throw new TypeError("upstreamFetch takes a URL and RequestInit, not a Request");
  const body = init?.body;
  if (body !== undefined && body !== null && typeof body !== "string") throw new TypeError("upstreamFetch sends string bodies only (JSON-RPC)");
  const method = (init?.method ?? "GET").toUpperCase() as Dispatcher.HttpMethod;
  const response = await request(input, { method, headers: headerRecord(init?.headers), body: body ?? null, signal: init?.signal ?? undefined, dispatcher: agent });
  const status = response.statusCode;
  if (NULL_BODY_STATUS.has(status) || method === "HEAD") {
    response.body.resume();
    return new Response(null, { status, headers: responseHeaders(response.headers) });
  }
  return new Response(Readable.toWeb(response.body) as ReadableStream<Uint8Array>, { status, headers: responseHeaders(response.headers) });
};
