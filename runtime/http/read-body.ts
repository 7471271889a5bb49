/**
 * Reads a whole HTTP body (the client's request) into one Buffer, bounded. (Provider answers are read
 * from undici's dispatch callbacks instead: runtime/llm/upstream-client.ts.)
 * Event listeners rather than an async iterator: the iterator costs a generator, an end-of-stream
 * watcher and a promise per chunk, on every request.
 */
import type { Readable } from "node:stream";

/**
 * The body's bytes. Past `maxBytes` the listeners go and `overflow(body)` stops the stream its own way
 * (drain it, destroy it) and gives the rejection reason. A body that closes before it ends rejects with
 * `closedEarly`'s message.
 */
export function readBody(body: Readable, maxBytes: number, overflow: (body: Readable) => unknown, closedEarly: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        cleanup();
        reject(overflow(body));
        return;
      }
      chunks.push(chunk);
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
    body.on("data", onData);
    body.once("end", onEnd);
    body.once("error", onError);
    body.once("close", onClose);
  });
}
