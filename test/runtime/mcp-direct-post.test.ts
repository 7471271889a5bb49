/**
 * A session's POSTs go to the SDK's web-standard transport and the gateway writes the answer itself
 * (runtime/mcp/direct-post.ts): what a client sees of an SSE answer, of a JSON refusal and of a notification,
 * and that a client that dropped a call's stream mid-call can resume it at once with `Last-Event-ID`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpUpstream, gatewayBundle, startHttpUpstream } from "./mcp-fixtures.js";
import { type Harness, principal, startHarness } from "./mcp-harness.js";

let web: HttpUpstream;
let dir: string;
let harness: Harness;
let client: Client;
let sessionId: string;

const headers = (accept = "application/json, text/event-stream") => ({
  authorization: "Bearer alice",
  "content-type": "application/json",
  accept,
  "mcp-session-id": sessionId,
  "mcp-protocol-version": "2025-11-25",
});

const post = (body: unknown, init: { accept?: string; signal?: AbortSignal } = {}) =>
  fetch(harness.url, {
    method: "POST",
    headers: headers(init.accept),
    body: JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });

const callTool = (id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

/** The SSE events of a body: each event's fields (the `data` of a message parsed). */
function events(text: string): { id?: string; retry?: string; event?: string; data: string }[] {
  return text
    .split("\n\n")
    .filter((block) => block.length > 0)
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const at = line.indexOf(": ");
        fields[line.slice(0, at)] = line.slice(at + 2);
      }
      return { ...fields, data: fields.data ?? "" };
    });
}

beforeAll(async () => {
  web = await startHttpUpstream();
  dir = await mkdtemp(join(tmpdir(), "tollgate-direct-post-"));
  harness = await startHarness(gatewayBundle({ webUrl: web.url, memoryFile: join(dir, "memory.jsonl") }), {
    alice: principal("alice", ["mcp:read"]),
  });
  const transport = new StreamableHTTPClientTransport(new URL(harness.url), {
    requestInit: { headers: { authorization: "Bearer alice" } },
  });
  client = new Client({ name: "direct-post-test", version: "0" });
  await client.connect(transport);
  sessionId = transport.sessionId ?? "";
});

afterAll(async () => {
  await client?.close();
  await harness?.close();
  await web?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a session's POSTs answered by the gateway's own writer", () => {
  it("a call's SSE answer: stream headers with the session id, the priming event, the result, then the end", async () => {
    const response = await post(callTool(7, "web__get_time", {}));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("mcp-session-id")).toBe(sessionId);
    const [priming, answer, ...rest] = events(await response.text());
    expect(priming).toMatchObject({ id: expect.stringMatching(/^\d+$/), retry: "1000", data: "" });
    expect(answer).toMatchObject({ event: "message", id: expect.stringMatching(/^\d+$/) });
    expect(JSON.parse(answer!.data)).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { content: [{ type: "text", text: new Date(0).toISOString() }] },
    });
    expect(rest).toEqual([]);
  });

  it("a refusal of the SDK transport is one JSON body with its length; a notification gets an empty 202", async () => {
    const refused = await post(callTool(8, "web__get_time", {}), { accept: "application/json" });
    expect(refused.status).toBe(406);
    expect(refused.headers.get("content-type")).toBe("application/json");
    const text = await refused.text();
    expect(refused.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(JSON.parse(text)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });

    const notified = await post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 999 } });
    expect(notified.status).toBe(202);
    expect(await notified.text()).toBe("");
  });

  it("a client that drops a call's stream can resume it at once: the gateway let go of the dropped stream", async () => {
    const controller = new AbortController();
    const response = await post(callTool(9, "web__count_slowly", { n: 50 }, { progressToken: "p" }), {
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const cursor = events(first)[0]?.id;
    expect(cursor).toMatch(/^\d+$/);
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));

    // The call is still running upstream (50 steps of 5 ms). Had the gateway kept the dropped stream open, the
    // transport would refuse this as a second connection to it (409).
    const resumed = await fetch(harness.url, {
      headers: { ...headers("text/event-stream"), "last-event-id": cursor! },
    });
    expect(resumed.status).toBe(200);
    const answer = events(await resumed.text()).find((e) => e.data.includes('"result"'));
    expect(JSON.parse(answer!.data)).toMatchObject({ id: 9, result: { content: [{ text: "counted to 50" }] } });
  });
});
