/**
 * The gateway's server against misbehaving clients, over real sockets: a slow-loris client trickling its
 * headers byte by byte is cut off after `server.clients.headersTimeoutMs` while other clients keep being
 * served; and a stream still running when the shutdown grace period ends reaches the client as an error,
 * never as a complete answer.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { type AddressInfo, type Socket, connect } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

/** Sends `GET /healthz` one byte every `everyMs`, never finishing the headers; resolves when the server hangs up. */
function slowLoris(url: string, everyMs: number): { socket: Socket; closed: Promise<number> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const started = Date.now();
  const request = "GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + "a".repeat(10_000);
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.writable) socket.write(request[sent++ % request.length] as string);
  }, everyMs);
  const closed = new Promise<number>((resolve) => {
    socket.on("close", () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    });
    socket.on("error", () => undefined);
  });
  return { socket, closed };
}

describe("slow-loris clients", () => {
  let platform: TestPlatform;

  beforeAll(async () => {
    platform = await startTestPlatform({
      bundle: (b) => ({
        ...b,
        server: {
          ...b.server,
          clients: { headersTimeoutMs: 1000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 5000, maxConnections: 256 },
        },
      }),
    });
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("are cut off soon after the header timeout while other clients keep being served", async () => {
    const lorises = Array.from({ length: 20 }, () => slowLoris(platform.url, 50));
    // Served while the slow clients hold their connections.
    for (let i = 0; i < 5; i++) expect((await fetch(`${platform.url}/healthz`)).status).toBe(200);
    const heldMs = await Promise.all(lorises.map((l) => l.closed));
    // headersTimeoutMs (1 s) plus at most one check interval (1 s) and scheduling slack.
    expect(Math.max(...heldMs)).toBeLessThan(4000);
    expect((await fetch(`${platform.url}/healthz`)).status).toBe(200);
  });
});

describe("a stream still running when the shutdown grace period ends", () => {
  let platform: TestPlatform;
  let provider: ReturnType<typeof createServer>;
  let streamStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (streamStarted = resolve));

  beforeAll(async () => {
    // Sends one chunk and then keeps the stream open, as a long generation does.
    provider = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(
          `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: "The answer is " }, logprobs: null, finish_reason: null }] })}\n\n`,
        );
        streamStarted();
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    const providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
    platform = await startTestPlatform({
      shutdownGraceMs: 300,
      bundle: (b) => ({
        ...b,
        llm: {
          routes: [
            {
              id: "chat",
              pathPrefix: "/chat",
              policy: "default",
              providers: [{ id: "slow", kind: "openai", baseUrl: providerUrl, apiKey: { env: "OPENAI_API_KEY" } }],
            },
          ],
        },
      }),
    });
  });

  afterAll(async () => {
    await platform?.as.close();
    provider?.closeAllConnections();
    await new Promise<void>((resolve) => provider?.close(() => resolve()));
  });

  it("makes the OpenAI SDK throw instead of returning the partial answer as complete", async () => {
    const client = new OpenAI({
      baseURL: `${platform.url}/chat/v1`,
      apiKey: await platform.token("reader"),
      maxRetries: 0,
    });
    const stream = await client.chat.completions.create({
      model: "m",
      stream: true,
      messages: [{ role: "user", content: "hello" }],
    });
    let text = "";
    const read = (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    })().then(
      () => "completed",
      (error: unknown) => error,
    );
    await started;
    await platform.gateway.close();
    expect(await read).toMatchObject({ message: expect.stringMatching(/stream broke off/) });
    expect(text).toBe("The answer is ");
  });
});

describe("a request that fails unhandled", () => {
  let platform: TestPlatform;
  let provider: ReturnType<typeof createServer>;
  let reached: () => void = () => undefined;
  const providerReached = new Promise<void>((resolve) => (reached = resolve));

  beforeAll(async () => {
    // Never answers: the client gives up first.
    provider = createServer(() => reached());
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    const providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
    platform = await startTestPlatform({
      bundle: (b) => ({
        ...b,
        llm: {
          routes: [
            {
              id: "chat",
              pathPrefix: "/chat",
              policy: "default",
              providers: [{ id: "mute", kind: "openai", baseUrl: providerUrl, apiKey: { env: "OPENAI_API_KEY" } }],
            },
          ],
        },
      }),
    });
  });

  afterAll(async () => {
    await platform?.close();
    provider?.closeAllConnections();
    await new Promise<void>((resolve) => provider?.close(() => resolve()));
  });

  // A client giving up was the way into the server's catch-all; since client disconnects are handled (audited
  // `cancelled`), the test holds the part that stays: the event is the request's kind, never a config event.
  it("is audited with the request's kind, not as a configuration event", async () => {
    const abort = new AbortController();
    const answer = fetch(`${platform.url}/chat/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${await platform.token("reader")}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hello" }] }),
      signal: abort.signal,
    }).catch(() => undefined);
    await providerReached;
    abort.abort();
    await answer;
    await vi.waitFor(() => expect(platform.audit.some((e) => e.decision === "cancelled")).toBe(true));
    const cancelled = platform.audit.filter((e) => e.decision === "cancelled");
    expect(cancelled.map((e) => [e.kind, e.status])).toEqual([["llm", 499]]);
    expect(platform.audit.filter((e) => e.kind === "config" && e.decision !== "allow")).toEqual([]);
  });
});
