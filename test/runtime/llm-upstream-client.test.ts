/**
 * The provider client's whole-answer path (`fetchWhole`, JSON answers) against a real HTTP server that
 * misbehaves on purpose: every failure must land on the right side of the failover line (before the
 * answer's headers: `UpstreamUnavailable`; after them: a body failure of a committed answer).
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RequestCancellation } from "../../runtime/http/cancellation.js";
import { UpstreamUnavailable, createUpstreamClient } from "../../runtime/http/upstream-client.js";

type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;
let behaviour: Behaviour = (_req, res) => res.end("{}");
/** Resolves when the server sees the current request's connection close. */
let closed: Promise<void> = Promise.resolve();
const server = createServer((req, res) => {
  closed = new Promise((resolve) => req.socket.once("close", () => resolve()));
  behaviour(req, res);
});
let url = "";
const client = createUpstreamClient();

/**
 * "closed" once the server sees the connection close, or "still open" after `ms`: a bound on how long a
 * failing test waits, so it fails with a message instead of the test timeout. A passing test does not wait.
 */
function closedWithin(ms: number): Promise<"closed" | "still open"> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"still open">((resolve) => (timer = setTimeout(() => resolve("still open"), ms)));
  return Promise.race([closed.then(() => "closed" as const), deadline]).finally(() => clearTimeout(timer));
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
});
afterEach(() => {
  behaviour = (_req, res) => res.end("{}");
});
afterAll(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const fetchWhole = (options: { timeoutMs?: number; maxBytes?: number; cancellation?: RequestCancellation } = {}) =>
  client.fetchWhole({
    url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"model":"m"}',
    timeoutMs: options.timeoutMs ?? 30_000,
    maxBytes: options.maxBytes ?? 1024,
    cancellation: options.cancellation ?? new RequestCancellation(),
  });

describe("fetchWhole", () => {
  it("reads an answer sent in several writes into one body, with its status and headers", async () => {
    behaviour = (_req, res) => {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "7" });
      res.write('{"error":');
      setTimeout(() => res.end('{"message":"slow down"}}'), 20);
    };
    const answer = await fetchWhole();
    expect(answer.status).toBe(429);
    expect(answer.headers["retry-after"]).toBe("7");
    expect("bytes" in answer.body && answer.body.bytes.toString()).toBe('{"error":{"message":"slow down"}}');
  });

  it("stops reading past maxBytes and drops the connection: a committed answer that is too large", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const tick = setInterval(() => res.write("x".repeat(512)), 5);
      res.once("close", () => clearInterval(tick));
    };
    const answer = await fetchWhole({ maxBytes: 1024 });
    expect(answer.body).toEqual({ failure: "too-large" });
    await closed;
  });

  it("reports an answer that breaks off after its headers as broken, not as a reason to fail over", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"choices":');
      setTimeout(() => res.destroy(), 10);
    };
    const answer = await fetchWhole();
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ failure: "broken" });
  });

  it("fails over (timeout) when no headers come within a short timeoutMs, and drops the request", async () => {
    behaviour = () => undefined;
    const started = performance.now();
    const error = await fetchWhole({ timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamUnavailable);
    expect((error as UpstreamUnavailable).kind).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(2000);
    await closed;
  });

  it("fails over (connection-error) when nothing listens", async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    const error = await client
      .fetchWhole({
        url: `http://127.0.0.1:${port}/v1/models`,
        method: "GET",
        headers: {},
        timeoutMs: 30_000,
        maxBytes: 1024,
        cancellation: new RequestCancellation(),
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamUnavailable);
    expect((error as UpstreamUnavailable).kind).toBe("connection-error");
  });

  it("a client that goes away before the headers aborts the upstream request, and that is no provider failure", async () => {
    behaviour = () => undefined;
    const client = new RequestCancellation();
    const pending = fetchWhole({ cancellation: client }).catch((e: unknown) => e);
    setTimeout(() => client.cancel(new Error("client gone")), 50);
    const error = await pending;
    expect(error).not.toBeInstanceOf(UpstreamUnavailable);
    expect((error as Error).message).toBe("client gone");
    await closed;
  });

  it("a client that goes away mid-body drops the upstream connection too", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"choices":');
    };
    const client = new RequestCancellation();
    const pending = fetchWhole({ cancellation: client });
    setTimeout(() => client.cancel(new Error("client gone")), 50);
    expect((await pending).body).toEqual({ failure: "broken" });
    await closed;
  });
});

describe("send (streamed answers)", () => {
  const send = (cancellation = new RequestCancellation()) =>
    client.send({
      url,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"stream":true}',
      timeoutMs: 30_000,
      cancellation,
    });

  it("resolves at the headers and yields the body as it arrives, in order", async () => {
    let finish: () => void = () => undefined;
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      finish = () => res.end("data: 2\n\n");
    };
    const answer = await send();
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/event-stream");
    const seen: string[] = [];
    for await (const chunk of answer.body) {
      seen.push(Buffer.from(chunk).toString());
      finish(); // the second event is written only after the first was read
    }
    expect(seen.join("")).toBe("data: 1\n\ndata: 2\n\n");
  });

  it("a slow reader stops undici reading the socket (bounded buffering), and still gets every byte", async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let writtenWhenReadStarted = 0;
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const pump = () => {
        while (written < total) {
          written += 16 * 1024;
          if (!res.write("x".repeat(16 * 1024))) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    };
    const answer = await send();
    await new Promise((resolve) => setTimeout(resolve, 300));
    writtenWhenReadStarted = written;
    let read = 0;
    for await (const chunk of answer.body) read += chunk.byteLength;
    expect(read).toBe(total);
    // Without back-pressure the server would have written all 64 MiB into the gateway's memory while nobody
    // read; with it, what is in flight is the kernel's socket buffers (a few MiB on loopback) and 64 KiB.
    expect(writtenWhenReadStarted).toBeLessThan(total / 4);
  });

  it("leaving the loop early drops the upstream connection", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const tick = setInterval(() => res.write("data: x\n\n"), 5);
      res.once("close", () => clearInterval(tick));
    };
    const answer = await send();
    for await (const _ of answer.body) break;
    expect(await closedWithin(5_000)).toBe("closed");
  });

  it("an answer that breaks off mid-stream makes the reader's loop throw", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
      setTimeout(() => res.destroy(), 20);
    };
    const answer = await send();
    const error = await (async () => {
      for await (const _ of answer.body) {
        // reading until it breaks
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
  });

  it("a client that goes away mid-stream drops the upstream connection", async () => {
    behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
    };
    const gone = new RequestCancellation();
    const answer = await send(gone);
    gone.cancel(new Error("client gone"));
    await closed;
    await expect(
      (async () => {
        for await (const _ of answer.body) {
          // the first event may still be there; then the abort
        }
      })(),
    ).rejects.toThrow("client gone");
  });
});
