/**
 * Resumable MCP streams: a client whose SSE connection is cut during a long tool call reconnects with
 * `Last-Event-ID` and receives the rest of the call, its result included, from the session's event log, on the
 * same replica (memory) and on another one (a real redis-server); the upstream is called once. An event id from
 * another session replays nothing of that session.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bundle } from "../../policies/bundle/index.js";
import { memorySessionEvents } from "../../runtime/mcp/session-events.js";
import { type SessionRecords, redisSessionRecords } from "../../runtime/mcp/session-records.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";
import { type HttpUpstream, gatewayBundle, startHttpUpstream } from "./mcp-fixtures.js";
import { principal, startHarness } from "./mcp-harness.js";

const principals = { alice: principal("alice", ["mcp:read"]), bob: principal("bob", ["mcp:read"]) };

/** The fixture bundle with its HTTP upstream only ("web": `count_slowly` is the long call). */
function webOnly(webUrl: string, memoryFile: string): Bundle {
  const bundle = gatewayBundle({ webUrl, memoryFile });
  const mcp = bundle.mcp!;
  return {
    ...bundle,
    mcp: {
      ...mcp,
      upstreams: mcp.upstreams.filter((u) => u.id === "web"),
      grants: mcp.grants.filter((g) => g.upstream === "web"),
    },
  };
}

/**
 * A fetch that cuts the next tools/call's SSE response after its first chunk (the priming event that hands the
 * client its first cursor), as a dropped connection does, and sends GETs to `getUrl` (another replica, or the
 * same one). Records the `Last-Event-ID` of every GET.
 */
function cuttingFetch(getUrl: string) {
  const lastEventIds: (string | null)[] = [];
  let cutNextCall = false;
  const fetchLike: FetchLike = async (url, init) => {
    const method = init?.method ?? "GET";
    if (method === "GET") {
      lastEventIds.push(new Headers(init?.headers).get("last-event-id"));
      return fetch(getUrl, init);
    }
    const isCall = typeof init?.body === "string" && init.body.includes('"tools/call"');
    const response = await fetch(url, init);
    if (!(isCall && cutNextCall && response.body)) return response;
    cutNextCall = false;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        const first = await reader.read();
        if (!first.done) controller.enqueue(first.value);
        await reader.cancel();
        controller.error(new TypeError("terminated: the connection was cut"));
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return {
    fetch: fetchLike,
    lastEventIds,
    cutNextCall: () => {
      cutNextCall = true;
    },
  };
}

async function connect(postUrl: string, who: string, fetchLike: FetchLike): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(postUrl), {
    requestInit: { headers: { authorization: `Bearer ${who}` } },
    fetch: fetchLike,
  });
  const client = new Client({ name: `${who}-agent`, version: "0" });
  await client.connect(transport);
  return client;
}

/** Calls `count_slowly` with progress, returns the result text and the progress values seen. */
async function countSlowly(client: Client, n: number): Promise<{ text: string; progress: number[] }> {
  const progress: number[] = [];
  const result = await client.callTool({ name: "web__count_slowly", arguments: { n } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
    timeout: 15_000,
  });
  const content = result.content as { type: string; text: string }[];
  return { text: content[0]?.text ?? "", progress };
}

describe("resumable MCP streams", () => {
  let web: HttpUpstream;
  let dir: string;
  let bundle: Bundle;
  let redis: RedisServer;

  beforeAll(async () => {
    web = await startHttpUpstream();
    dir = await mkdtemp(join(tmpdir(), "tollgate-resume-"));
    bundle = webOnly(web.url, join(dir, "memory.json"));
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await web?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a client cut off during a call reconnects with Last-Event-ID and gets the result (one replica)", async () => {
    const gateway = await startHarness(bundle, principals);
    try {
      const cut = cuttingFetch(gateway.url);
      const client = await connect(gateway.url, "alice", cut.fetch);
      cut.cutNextCall();
      const { text, progress } = await countSlowly(client, 40);
      expect(text).toBe("counted to 40");
      // The result came over a GET that named the last event the client had seen.
      expect(cut.lastEventIds.filter((id) => id !== null)).toHaveLength(1);
      expect(progress.at(-1)).toBe(40);
      // One call reached the upstream: the gateway replayed, it did not call again.
      const calls = gateway.events.filter((e) => e.tool === "web__count_slowly" && e.decision === "allow");
      expect(calls).toHaveLength(1);
      await client.close();
    } finally {
      await gateway.close();
    }
  });

  it("another replica replays what the first stored in the shared store (redis-server)", async () => {
    const ttlMs = 60_000;
    const retention = { retentionMs: 60_000, maxPerSession: 1000 };
    const storeA: SessionRecords = redisSessionRecords(redis.url, "resume:mcp-session:", ttlMs, retention);
    const storeB: SessionRecords = redisSessionRecords(redis.url, "resume:mcp-session:", ttlMs, retention);
    const a = await startHarness(bundle, principals, undefined, { sessionRecords: storeA });
    const b = await startHarness(bundle, principals, undefined, { sessionRecords: storeB });
    try {
      // Calls go to replica A; the reconnect (GET) reaches replica B, which holds neither the session nor the call.
      const cut = cuttingFetch(b.url);
      const client = await connect(a.url, "alice", cut.fetch);
      cut.cutNextCall();
      const { text } = await countSlowly(client, 20);
      expect(text).toBe("counted to 20");
      expect(cut.lastEventIds.some((id) => id !== null)).toBe(true);
      expect(b.gateway.sessionCount()).toBe(1);
      await client.close();
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
    }
  });

  it("an event id from another session replays nothing of it", async () => {
    const gateway = await startHarness(bundle, principals);
    try {
      const bobCut = cuttingFetch(gateway.url);
      const bob = await connect(gateway.url, "bob", bobCut.fetch);
      bobCut.cutNextCall();
      expect((await countSlowly(bob, 5)).text).toBe("counted to 5");
      const bobCursor = bobCut.lastEventIds.find((id) => id !== null);
      expect(bobCursor).toBeTruthy();

      const alice = await connect(gateway.url, "alice", (url, init) => fetch(url, init));
      const aliceSession = (alice as unknown as { _transport: { sessionId: string } })._transport.sessionId;
      const controller = new AbortController();
      const replay = await fetch(gateway.url, {
        headers: {
          authorization: "Bearer alice",
          accept: "text/event-stream",
          "mcp-session-id": aliceSession,
          "mcp-protocol-version": "2025-11-25",
          "last-event-id": bobCursor!,
        },
        signal: controller.signal,
      });
      // Alice's session has no event of that id of its own worth replaying: nothing of Bob's call comes back.
      const seen = replay.body ? await readFor(replay.body, 500) : "";
      controller.abort();
      expect(seen).not.toContain("counted to 5");
      await Promise.all([alice.close(), bob.close()]);
    } finally {
      await gateway.close();
    }
  });
});

describe("session event log bounds", () => {
  it("keeps at most maxPerSession events and forgets a session after the retention time", async () => {
    let now = 0;
    const events = memorySessionEvents({ retentionMs: 1000, maxPerSession: 16 }, () => now);
    const store = events.forSession("s1");
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push(await store.storeEvent("stream", { jsonrpc: "2.0", method: "notifications/message", params: { i } }));
    // The four oldest were dropped: their ids are unknown now.
    expect(await store.getStreamIdForEventId(ids[0]!)).toBeUndefined();
    expect(await store.getStreamIdForEventId(ids[4]!)).toBe("stream");
    const replayed: string[] = [];
    await store.replayEventsAfter(ids[17]!, { send: async (id) => void replayed.push(id) });
    expect(replayed).toEqual([ids[18], ids[19]]);
    // Another session's log is separate: the same id names nothing there.
    expect(await events.forSession("s2").getStreamIdForEventId(ids[19]!)).toBeUndefined();
    now = 1001;
    expect(await store.getStreamIdForEventId(ids[19]!)).toBeUndefined();
  });
});

async function readFor(body: ReadableStream<Uint8Array>, ms: number): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), left)),
    ]);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel().catch(() => {});
  return text;
}
