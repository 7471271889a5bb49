/**
 * Reads the client's request body into one Buffer, bounded. (Provider answers are read from undici's
 * dispatch callbacks instead: runtime/llm/upstream-client.ts.)
 * Event listeners rather than an async iterator: the iterator costs a generator, an end-of-stream
 * watcher and a promise per chunk, on every request.
 */
import type { IncomingMessage } from "node:http";

/** A request body over the bound; the rest of it is drained, so an answer still reaches the client. */
export class RequestBodyTooLarge extends Error {}

/**
 * The body's bytes, at most `maxBytes` (past them: {@link RequestBodyTooLarge}). A request that closes
 * before its body ended rejects. With a `Content-Length` the body is complete once that many bytes
 * arrived (the parser delivers no more): it resolves then, not a turn later at `end`.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared =
    req.headers["transfer-encoding"] === undefined ? Number(req.headers["content-length"] ?? Number.NaN) : Number.NaN;
  const expected = Number.isSafeInteger(declared) && declared > 0 ? declared : undefined;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        cleanup();
        req.resume();
        reject(new RequestBodyTooLarge(`request body over ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
      if (size === expected) onEnd();
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("the client closed the request before its body ended"));
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}
