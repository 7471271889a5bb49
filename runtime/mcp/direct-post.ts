/**
 * A session's POSTs handed straight to the SDK's web-standard transport, its answer written to the Node response here.
 *
 * Why it exists: the SDK's Node transport (`StreamableHTTPServerTransport`) is a wrapper that runs every request
 * through @hono/node-server: a full web `Request` with a body stream over the `IncomingMessage` (whose body the
 * gateway has already read and parsed), undici `Headers`, and the web `Response` written back through generic
 * stream plumbing that, for an SSE answer whose first event (the resumability priming event) is ready before the
 * rest, waits a timer tick (≥ 1 ms) before writing anything. Profiled under `npm run bench -- mcp`, that wrapper
 * was about a tenth of the gateway's own CPU per `tools/call`, and the timer sat on the path of every call. The
 * inner transport needs of a request only its method, URL and headers when it is given the parsed body.
 *
 * GET streams and DELETE still go through the Node transport: they are rare, and GET streams are long-lived.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { drainOrClose } from "../http/drain.js";
import type { WebStandardTransport } from "./session.js";

/**
 * What of a `Request` the web-standard transport reads when it is handed the parsed body: `method`, `url`,
 * `headers.get` and `headers.entries` (request info for handlers). Node has already lower-cased the names and
 * joined repeated headers with ", " as `Headers` would.
 */
class IncomingHeaders {
  constructor(private readonly headers: IncomingMessage["headers"]) {}

  get(name: string): string | null {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return null;
    return typeof value === "string" ? value : value.join(", ");
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of Object.keys(this.headers)) {
      const value = this.get(name);
      if (value !== null) yield [name, value];
    }
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

function requestView(req: IncomingMessage): Request {
  const host = req.headers.host ?? "localhost";
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? "https" : "http";
  return {
    method: "POST",
    url: `${scheme}://${host}${req.url ?? "/"}`,
    headers: new IncomingHeaders(req.headers),
  } as unknown as Request;
}

/** What the gateway attached to the request for the SDK handlers (./index.ts): its request context. */
export function authInfoOf(req: IncomingMessage): { authInfo?: AuthInfo } {
  const auth = (req as IncomingMessage & { auth?: AuthInfo }).auth;
  return auth ? { authInfo: auth } : {};
}

/**
 * Hands a POST whose JSON-RPC body the gateway parsed (`parsedBody`) to the session's web-standard transport and
 * writes its answer: a JSON body, an empty 202, or an SSE stream relayed as it is written (backpressure kept; a
 * client that goes away cancels the stream, which releases the transport's hold on it).
 */
export async function handlePost(
  transport: WebStandardTransport,
  req: IncomingMessage,
  res: ServerResponse,
  parsedBody: unknown,
): Promise<void> {
  const response = await transport.handleRequest(requestView(req), { parsedBody, ...authInfoOf(req) });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = response.body;
  if (!body) {
    res.writeHead(response.status, headers).end();
    return;
  }
  if (!headers["content-type"]?.startsWith("text/event-stream")) {
    // A JSON answer (an error, or the JSON response mode): one body, known length.
    const bytes = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, { ...headers, "content-length": String(bytes.length) }).end(bytes);
    return;
  }
  res.writeHead(response.status, headers);
  await relay(body, res);
}

/** Already settled: races a read to tell whether a chunk was waiting. */
const NOT_YET = Promise.resolve(undefined);

/**
 * Writes the stream's chunks to `res` as they come, then ends it. If `res` closes first (the client went away), the
 * stream is cancelled: the transport lets go of it, and a client resuming with `Last-Event-ID` is not refused as a
 * second connection to a stream still held open.
 */
async function relay(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  res.once("close", cancel);
  let ended = false;
  try {
    let next = reader.read();
    // The headers leave with the first event when it is already there (the priming event), else at once: a client
    // sees the stream open before a long call's first event, as the SDK's own transport shows it.
    if ((await Promise.race([next, NOT_YET])) === undefined) res.flushHeaders();
    for (;;) {
      const { done, value } = await next;
      if (res.destroyed) return;
      if (done) {
        ended = true;
        res.end();
        return;
      }
      // Node corks the socket for the rest of the tick: the answer and the stream's end leave in one write.
      if (!res.write(value)) await drainOrClose(res);
      next = reader.read();
    }
  } catch (error) {
    res.destroy(error as Error);
  } finally {
    res.off("close", cancel);
    if (ended) reader.releaseLock();
    else cancel();
  }
}
