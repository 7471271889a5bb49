/**
 * The `fetch` the gateway gives the MCP SDK's streamable-HTTP client transport for its upstreams: undici's
 * `request` on the runtime's pooled Agent (../http/upstream-client.ts), answered as a WHATWG Response. The SDK only needs status, headers and
 * a body stream; the global fetch adds the Fetch standard's machinery per call (Request objects, header
 * guards, resource timing, its own body streams) on every upstream call.
 * Redirects are not followed here: an upstream's 3xx reaches the SDK, which follows it only within the
 * upstream's own origin and otherwise fails the call (no request leaves for a host the bundle did not name).
 * Every request made while serving a client request carries that request's `x-request-id` and trace context
 * (../observability/context.ts: the SDK calls this fetch with its own headers only).
 */
import { Readable } from "node:stream";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type Dispatcher, request } from "undici";
import { addUpstreamPropagation } from "../observability/context.js";

/** Statuses whose Response must have a null body (the Fetch standard). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function headerRecord(init: RequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  // The SDK passes a Headers it built for this request: read it, do not copy it.
  (init instanceof Headers ? init : new Headers(init)).forEach((value, name) => (out[name] = value));
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

/** A fetch for the MCP SDK over `dispatcher` (the upstream client's pool, which outlives every call). */
export const upstreamFetch =
  (dispatcher: Dispatcher): FetchLike =>
  async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (input instanceof Request) throw new TypeError("upstreamFetch takes a URL and RequestInit, not a Request");
    const body = init?.body;
    if (body !== undefined && body !== null && typeof body !== "string")
      throw new TypeError("upstreamFetch sends string bodies only (JSON-RPC)");
    const method = (init?.method ?? "GET").toUpperCase() as Dispatcher.HttpMethod;
    const requestHeaders = headerRecord(init?.headers);
    addUpstreamPropagation(requestHeaders);
    const response = await request(input, {
      method,
      headers: requestHeaders,
      body: body ?? null,
      signal: init?.signal ?? undefined,
      dispatcher,
    });
    const status = response.statusCode;
    if (NULL_BODY_STATUS.has(status) || method === "HEAD") {
      response.body.resume();
      return new Response(null, { status, headers: responseHeaders(response.headers) });
    }
    const headers = responseHeaders(response.headers);
    if (method === "POST" && status === 200 && headers.get("content-type")?.startsWith("text/event-stream")) {
      const single = await singleResponseEvent(response.body);
      if (single !== undefined) {
        headers.set("content-type", "application/json");
        return parsedJsonResponse(single, status, headers);
      }
    }
    return new Response(Readable.toWeb(response.body) as ReadableStream<Uint8Array>, { status, headers });
  };

/**
 * The JSON answer of {@link singleResponseEvent}, already parsed: its `json()` and `text()` answer from memory. The
 * SDK reads a JSON answer with `json()`; a Response over the text would copy it into a body stream only for the SDK
 * to read it back out and parse it a second time (2-8 KB per tool result).
 */
function parsedJsonResponse(single: { text: string; message: unknown }, status: number, headers: Headers): Response {
  const response = new Response(null, { status, headers });
  return Object.defineProperties(response, {
    json: { value: () => Promise.resolve(single.message) },
    text: { value: () => Promise.resolve(single.text) },
  });
}

/**
 * A POST answered with an SSE stream whose first event is the JSON-RPC response (no progress or other
 * message before it; the spec has the server close the stream after the response): that response's
 * JSON, so the SDK parses it as a JSON answer instead of through its web-stream SSE pipeline (a
 * TextDecoderStream and a parser stream per call, and an Error object Node creates when each one ends).
 * The rest of the stream is drained. Otherwise `undefined`, and the body is left as it was (what was read
 * is put back), so progress notifications and anything else stream through untouched and undelayed.
 */
async function singleResponseEvent(body: Readable): Promise<{ text: string; message: unknown } | undefined> {
  const read = await readFirstEvent(body);
  const event = read.end >= 0 ? parseSimpleEvent(read.bytes.toString("utf8", 0, read.end)) : undefined;
  const message = event !== undefined ? jsonRpcResponse(event) : undefined;
  if (event !== undefined && message !== undefined) {
    body.resume();
    return { text: event, message };
  }
  if (read.bytes.length > 0) body.unshift(read.bytes);
  return undefined;
}

/** Reads until the first blank line (the end of the first event) or the end of the body; pauses the body. */
function readFirstEvent(body: Readable): Promise<{ bytes: Buffer; end: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const finish = (end: number) => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.pause();
      resolve({ bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), end });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const end = all.indexOf("\n\n");
      if (end >= 0) finish(end);
      else if (all.length > 1024 * 1024) finish(-1); // not a small answer: stream it
    };
    const onEnd = () => finish(-1);
    const onError = (error: Error) => {
      body.off("data", onData);
      body.off("end", onEnd);
      reject(error);
    };
    body.on("data", onData);
    body.once("end", onEnd);
    body.once("error", onError);
  });
}

/** The data of an SSE block made of `event: message` (optional), `id:` (optional) and `data:` lines only. */
function parseSimpleEvent(block: string): string | undefined {
  if (block.includes("\r")) return undefined;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    else if (line !== "event: message" && !line.startsWith("id:")) return undefined;
  }
  return data.length > 0 ? data.join("\n") : undefined;
}

/** The data parsed, when it is one JSON-RPC response. */
function jsonRpcResponse(data: string): object | undefined {
  try {
    const message: unknown = JSON.parse(data);
    return typeof message === "object" &&
      message !== null &&
      !Array.isArray(message) &&
      "id" in message &&
      ("result" in message || "error" in message)
      ? message
      : undefined;
  } catch {
    return undefined;
  }
}
