/**
 * Reads the client's request body into one Buffer, bounded. (Provider answers are read from undici's
 * dispatch callbacks instead: runtime/llm/upstream-client.ts.)
 * Event listeners rather than an async iterator: the iterator costs a generator, an end-of-stream
 * watcher and a promise per chunk, on every request.
 */
import type { IncomingMessage } from "node:http";

/**
 * The body's bytes. Past `maxBytes` the listeners go and `overflow(req)` stops the stream its own way
 * (drains it) and gives the rejection reason. A body that closes before it ends rejects with
 * `closedEarly`'s message. With a `Content-Length` the body is complete once that many bytes arrived (the
 * parser delivers no more): it resolves then, not a turn later at `end`.
 */
export function readBody(req: IncomingMessage, maxBytes: number, overflow: (req: IncomingMessage) => unknown, closedEarly: string): Promise<Buffer> {
  const declared = req.headers["transfer-encoding"] === undefined ? Number(req.headers["content-length"] ?? Number.NaN) : Number.NaN;
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
        reject(overflow(req));
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
      reject(new Error(closedEarly));
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}
