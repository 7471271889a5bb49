/**
 * A client that closes the connection mid-request: the real gateway aborts the provider's call (the local
 * stand-in records the connection it lost before its reply ended) and audits the request as `cancelled`,
 * not as an error; the provider is not failed over from or evicted for it.
 */
import { randomUUID } from "node:crypto";
import { request } from "node:http";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

let upstream: LlmUpstream;
let platform: TestPlatform;
let token: string;

beforeAll(async () => {
  upstream = await startLlmUpstream();
  const provider = (id: string, vendor: string) => ({
    id,
    kind: "openai" as const,
    baseUrl: `${upstream.url}/${vendor}/v1`,
    apiKey: { env: "K" },
  });
  platform = await startTestPlatform({
    env: { K: "gw-key" },
    bundle: (bundle) => ({
      ...bundle,
      llm: {
        routes: [
          {
            id: "guarded",
            pathPrefix: "/guarded",
            policy: "default",
            providers: [provider("first", "first"), provider("second", "second")],
          },
          { id: "plain", pathPrefix: "/plain", policy: "plain", providers: [provider("first", "first")] },
        ],
      },
      guardPolicies: [
        { id: "default", credentialLeak: { mode: "block", holdBackChars: 256 } },
        { id: "plain", limits: { windowSeconds: 60, requestsPerWindow: 1000 } },
      ],
    }),
  });
  token = await platform.token("reader");
}, 60_000);

afterAll(async () => {
  await platform?.close();
  await upstream?.close();
});

beforeEach(() => upstream.reset());

/** A client whose requests carry `requestId` (the gateway keeps a client's well-formed x-request-id). */
const openai = (prefix: string, requestId: string) =>
  new OpenAI({
    baseURL: `${platform.url}${prefix}/v1`,
    apiKey: token,
    maxRetries: 0,
    defaultHeaders: { "x-request-id": requestId },
  });
/** The audit events of one request. */
const eventsOf = (requestId: string) => () => platform.audit.filter((e) => e.requestId === requestId);
/** Forty words, 25 ms apart: a stream still running a second after it started. */
const SLOW_REPLY = Array.from({ length: 40 }, (_, i) => `word${i} `);

describe("a client that goes away mid-request", () => {
  it.each(["chat", "responses"] as const)(
    "%s stream aborted after the first chunk: audited as cancelled, the provider's connection closed",
    async (api) => {
      const id = randomUUID();
      const events = eventsOf(id);
      upstream.scriptReplies([SLOW_REPLY], { paceMs: 25 });
      const client = openai("/guarded", id);
      const stream =
        api === "chat"
          ? await client.chat.completions.create({
              model: "gpt-4o-mini",
              messages: [{ role: "user", content: "talk" }],
              stream: true,
            })
          : await client.responses.create({ model: "gpt-4o-mini", input: "talk", stream: true });
      let chunks = 0;
      for await (const chunk of stream) {
        void chunk;
        chunks++;
        stream.controller.abort(); // closes the connection; the SDK's iterator then ends
      }
      expect(chunks).toBe(1);

      await vi.waitFor(() => expect(events()).toHaveLength(1), { timeout: 3000 });
      expect(events()[0]).toMatchObject({
        decision: "cancelled",
        provider: "first",
        status: 200,
        reason: "the client went away",
      });
      await vi.waitFor(() => expect(upstream.cutOff).toHaveLength(1));
      expect(upstream.cutOff[0]?.path).toBe(api === "chat" ? "/v1/chat/completions" : "/v1/responses");
      // The reply was cut well before its end: the stand-in sent only the first words.
      expect(upstream.cutOff[0]?.reply).not.toContain(SLOW_REPLY.at(-1)?.trim());
    },
  );

  it("JSON request aborted before the provider answered: cancelled (499), no failover to the next provider", async () => {
    const id = randomUUID();
    const events = eventsOf(id);
    const aborted = new AbortController();
    const pending = openai("/guarded", id)
      .chat.completions.create(
        { model: "slow-1500", messages: [{ role: "user", content: "take your time" }] },
        { signal: aborted.signal },
      )
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    aborted.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);

    await vi.waitFor(() => expect(events()).toHaveLength(1), { timeout: 3000 });
    expect(events()[0]).toMatchObject({
      decision: "cancelled",
      provider: "first",
      status: 499,
      reason: "the client went away",
    });
    await vi.waitFor(() => expect(upstream.cutOff).toHaveLength(1), { timeout: 3000 });
    expect(upstream.requests.map((r) => r.vendor)).toEqual(["first"]);
  });

  it("a client that stops reading a large stream and then leaves: the relay stops waiting for it and audits cancelled", async () => {
    const id = randomUUID();
    const events = eventsOf(id);
    // 16 MiB of text in 64 KiB chunks, far more than the loopback socket buffers hold.
    const big = Array.from({ length: 256 }, (_, i) => `${String(i).padStart(4, "0")} ${"x".repeat(65_530)} `);
    upstream.scriptReplies([big]);
    const body = JSON.stringify({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "all of it" }],
      stream: true,
    });
    await new Promise<void>((resolve, reject) => {
      const req = request(`${platform.url}/plain/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-request-id": id },
      });
      req.on("error", () => undefined);
      req.on("response", (res) => {
        res.once("data", () => {
          // Reads nothing more: the gateway's writes back up; then the client leaves.
          res.pause();
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 500);
        });
        res.on("error", () => undefined);
      });
      req.once("error", reject);
      req.end(body);
    });
    await vi.waitFor(() => expect(events()).toHaveLength(1), { timeout: 5000 });
    expect(events()[0]).toMatchObject({ decision: "cancelled", status: 200, route: "plain" });
  });
});
