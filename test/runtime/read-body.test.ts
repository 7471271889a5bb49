/** The request body reader against a real HTTP server and client: declared length, chunked, over the bound. */
import { type IncomingMessage, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RequestBodyTooLarge, readBody } from "../../runtime/http/read-body.js";

type Seen = { body: string; resolvedBeforeEnd: boolean } | { error: string };
let handle: (req: IncomingMessage) => Promise<Seen>;
const server = createServer((req, res) => {
  handle(req).then(
    (seen) => res.end(JSON.stringify(seen)),
    (error: unknown) => res.end(JSON.stringify({ error: String(error) })),
  );
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const reader =
  (maxBytes: number) =>
  async (req: IncomingMessage): Promise<Seen> => {
    let ended = false;
    req.once("end", () => (ended = true));
    try {
      const bytes = await readBody(req, maxBytes);
      return { body: bytes.toString(), resolvedBeforeEnd: !ended };
    } catch (error) {
      return { error: error instanceof RequestBodyTooLarge ? "too large" : (error as Error).message };
    }
  };

/** Sends `parts` one write at a time (`chunked`: no Content-Length), returns what the server saw. */
function send(parts: string[], chunked: boolean): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const length = parts.reduce((n, p) => n + Buffer.byteLength(p), 0);
    const req = request(
      {
        port,
        method: "POST",
        path: "/",
        headers: chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(length) },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve(JSON.parse(text) as Seen));
      },
    );
    req.on("error", reject);
    let i = 0;
    const next = () => {
      if (i === parts.length) return void req.end();
      req.write(parts[i++]);
      setTimeout(next, 10);
    };
    next();
  });
}

describe("readBody", () => {
  it("with a Content-Length, resolves as soon as the declared bytes are in, before the stream's end", async () => {
    handle = reader(1024);
    expect(await send(['{"model":', '"m","messages":[]}'], false)).toEqual({
      body: '{"model":"m","messages":[]}',
      resolvedBeforeEnd: true,
    });
  });

  it("a chunked body (no Content-Length) is read to its end", async () => {
    handle = reader(1024);
    expect(await send(["ab", "cd", "ef"], true)).toEqual({ body: "abcdef", resolvedBeforeEnd: false });
  });

  it("past maxBytes it refuses, whether the length was declared or not", async () => {
    handle = reader(8);
    expect(await send(["0123456789"], false)).toEqual({ error: "too large" });
    expect(await send(["01234", "56789"], true)).toEqual({ error: "too large" });
  });
});
