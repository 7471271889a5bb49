/**
 * The gateway's fetch for MCP upstreams (undici request answered as a WHATWG Response), against real
 * HTTP servers: what the SDK transport relies on, and what it must not do (follow redirects).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createUpstreamClient } from "../../runtime/http/upstream-client.js";
import { upstreamFetch } from "../../runtime/mcp/upstream-fetch.js";

/** The runtime's pooled client, as the MCP gateway uses it. */
const pool = createUpstreamClient();
const fetchUpstream = upstreamFetch(pool.dispatcher);
afterAll(() => pool.close());

const servers: Server[] = [];
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe("upstreamFetch", () => {
  it("sends method, headers and body, and answers with status, headers (repeated ones too) and body", async () => {
    let seen: { method?: string; session?: string; body?: string } = {};
    const url = await serve((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen = { method: req.method, session: req.headers["mcp-session-id"] as string, body };
        res.writeHead(200, [
          ["content-type", "application/json"],
          ["mcp-session-id", "s-2"],
          ["set-cookie", "a=1"],
          ["set-cookie", "b=2"],
        ]);
        res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
      });
    });
    const headers = new Headers({ "content-type": "application/json", "mcp-session-id": "s-1" });
    const response = await fetchUpstream(`${url}/mcp`, {
      method: "POST",
      headers,
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(seen).toEqual({ method: "POST", session: "s-1", body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get("mcp-session-id")).toBe("s-2");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.json()).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
  });

  /** An upstream redirecting to `path` on another origin, and whether that origin was ever asked. */
  async function redirectingUpstream(path: string): Promise<{ url: string; elsewhereHit: () => boolean }> {
    let hit = false;
    const elsewhere = await serve((_req, res) => {
      hit = true;
      res.end("{}");
    });
    const url = await serve((_req, res) => res.writeHead(307, { location: `${elsewhere}${path}` }).end());
    return { url, elsewhereHit: () => hit };
  }

  it("does not follow a redirect: the 3xx reaches the caller and the other address gets no request", async () => {
    const { url, elsewhereHit } = await redirectingUpstream("/steal");
    const response = await fetchUpstream(`${url}/mcp`, { method: "POST", body: "{}" });
    expect(response.status).toBe(307);
    expect(elsewhereHit()).toBe(false);
  });

  it("through the SDK's transport, an upstream redirecting to another origin fails the connection and the other host gets no request", async () => {
    const { url, elsewhereHit } = await redirectingUpstream("/mcp");
    const client = new Client({ name: "redirect-test", version: "0" });
    await expect(
      client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { fetch: fetchUpstream })),
    ).rejects.toThrow(/Redirect/);
    expect(elsewhereHit()).toBe(false);
  });

  it("answers 202 and 204 (notifications accepted, no content) without hanging", async () => {
    const url = await serve((req, res) => res.writeHead(req.url === "/accepted" ? 202 : 204).end());
    expect((await fetchUpstream(`${url}/accepted`, { method: "POST", body: "{}" })).status).toBe(202);
    const empty = await fetchUpstream(`${url}/empty`, { method: "DELETE" });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it("answers a POST whose SSE stream starts with the JSON-RPC response as that JSON (what the SDK parses without its stream pipeline)", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": "s-1" });
      res.end(
        'event: message\nid: e-1\ndata: {"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"caf\u00e9"}]}}\n\n',
      );
    });
    const response = await fetchUpstream(`${url}/mcp`, { method: "POST", body: "{}" });
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("mcp-session-id")).toBe("s-1");
    expect(await response.json()).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { content: [{ type: "text", text: "café" }] },
    });
  });

  it("streams a POST's SSE answer that starts with a notification as it arrives: the notification is read before the response exists", async () => {
    let sendResponse!: () => void;
    const clientSawProgress = new Promise<void>((resolve) => (sendResponse = resolve));
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n',
      );
      void clientSawProgress.then(() => res.end('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'));
    });
    const response = await fetchUpstream(`${url}/mcp`, { method: "POST", body: "{}" });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toContain("notifications/progress");
    expect(text).not.toContain('"result"');
    sendResponse();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
    expect(text).toContain('"id":1,"result":{}');
  });

  it("streams an SSE body as it arrives, and aborting closes the upstream request", async () => {
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    const url = await serve((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write('data: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n');
      req.socket.once("close", closed);
    });
    const controller = new AbortController();
    const response = await fetchUpstream(`${url}/mcp`, { method: "GET", signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("notifications/progress");
    controller.abort();
    await upstreamClosed;
  });
});
