/**
 * The MCP gateway's own behaviour, driven through its handler with the real MCP SDK Client downstream and
 * real upstreams (server-memory over stdio, an SDK McpServer over streamable HTTP). Authentication is the
 * server's job and is covered by the end-to-end suite; here principals are fixed per bearer name.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../runtime/http/types.js";
import { type HttpUpstream, gatewayBundle, startHttpUpstream, toolListWatcher } from "./mcp-fixtures.js";
import { type Harness, principal, startHarness } from "./mcp-harness.js";

const PRINCIPALS: Record<string, Principal> = {
  "alice-read": principal("alice", ["mcp:read"]),
  "alice-write": principal("alice", ["mcp:read", "mcp:write"]),
  "alice-admin": principal("alice", ["mcp:read", "mcp:write", "mcp:admin"]),
  "bob-read": principal("bob", ["mcp:read"]),
  "carol-read": principal("carol", ["mcp:read"]),
  "dave-read": principal("dave", ["mcp:read"]),
  "alice-other-agent": principal("alice", ["mcp:read"], "other-agent"),
};

let dir: string;
let web: HttpUpstream;
let harness: Harness;
const clients: Client[] = [];

async function connect(bearer: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(harness.url), {
    requestInit: { headers: { authorization: `Bearer ${bearer}` } },
  });
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name);
}

function rawPost(bearer: string, sessionId: string | undefined, body: unknown): Promise<Response> {
  return fetch(harness.url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25",
      ...(sessionId ? { "mcp-session-id": sessionId } : {}),
    },
    body: JSON.stringify(body),
  });
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-"));
  web = await startHttpUpstream();
  harness = await startHarness(gatewayBundle({ webUrl: web.url, memoryFile: join(dir, "memory.jsonl") }), PRINCIPALS);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await harness?.close();
  await web?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("tool visibility and calls by scope", () => {
  it("a read-scope caller sees only read tools, namespaced by upstream", async () => {
    const { client } = await connect("alice-read");
    expect(await toolNames(client)).toEqual([
      "memory__open_nodes",
      "memory__read_graph",
      "memory__search_nodes",
      "web__count_slowly",
      "web__get_time",
      "web__whoami",
    ]);
  });

  it("write scope adds the write tools, and a write call reaches the upstream", async () => {
    const { client } = await connect("alice-write");
    const names = await toolNames(client);
    expect(names).toEqual(
      expect.arrayContaining([
        "memory__create_entities",
        "memory__add_observations",
        "web__set_value",
        "memory__read_graph",
      ]),
    );
    expect(names.some((n) => n.includes("delete") || n.includes("drop"))).toBe(false);
    await client.callTool({
      name: "memory__create_entities",
      arguments: { entities: [{ name: "Ada", entityType: "person", observations: ["wrote code"] }] },
    });
    const graph = await client.callTool({ name: "memory__read_graph", arguments: {} });
    expect(JSON.stringify(graph.content)).toContain("Ada");
  });

  it("a read-scope caller calling a write tool gets 403 insufficient_scope naming every scope that would allow it", async () => {
    const { transport } = await connect("alice-read");
    const response = await rawPost(
      "alice-read",
      transport.sessionId,
      call(7, "memory__create_entities", { entities: [] }),
    );
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer error="insufficient_scope", resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp", scope="mcp:write mcp:admin"',
    );
    expect(await response.json()).toMatchObject({
      id: 7,
      error: { message: "refused: scope: mcp:write or mcp:admin required" },
    });
    expect(harness.events).toContainEqual(
      expect.objectContaining({ kind: "mcp", decision: "deny", tool: "memory__create_entities", principal: "alice" }),
    );
  });

  it("delete tools are refused even to an admin, with a JSON-RPC error naming the rule", async () => {
    const { client } = await connect("alice-admin");
    const names = await toolNames(client);
    expect(names).toContain("memory__create_entities");
    expect(names.filter((n) => /delete|drop/.test(n))).toEqual([]);
    await expect(
      client.callTool({ name: "memory__delete_entities", arguments: { entityNames: ["Ada"] } }),
    ).rejects.toThrow(/always-blocked: destructive/);
    await expect(client.callTool({ name: "web__drop_table", arguments: {} })).rejects.toThrow(
      /always-blocked: destructive/,
    );
    expect(harness.events).toContainEqual(
      expect.objectContaining({
        decision: "block",
        tool: "memory__delete_entities",
        rule: "always-blocked: destructive",
      }),
    );
  });

  it("an unknown tool gets a JSON-RPC error", async () => {
    const { client } = await connect("alice-admin");
    await expect(client.callTool({ name: "memory__no_such_tool", arguments: {} })).rejects.toThrow(/Unknown tool/);
    await expect(client.callTool({ name: "delete_entities", arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  it("a batched JSON-RPC array hiding a forbidden call is refused whole: nothing in it runs", async () => {
    const admin = await connect("alice-admin");
    await admin.client.callTool({
      name: "memory__create_entities",
      arguments: { entities: [{ name: "Keep", entityType: "thing", observations: [] }] },
    });
    const response = await rawPost("alice-admin", admin.transport.sessionId, [
      call(1, "memory__add_observations", { observations: [{ entityName: "Keep", contents: ["smuggled"] }] }),
      call(2, "memory__delete_entities", { entityNames: ["Keep"] }),
    ]);
    const body = (await response.json()) as { id: number; error?: { message: string } }[];
    expect(body.map((m) => [m.id, m.error?.message])).toEqual([
      [1, "refused: the batch contains a refused call"],
      [2, "refused: always-blocked: destructive"],
    ]);
    const graph = JSON.stringify((await admin.client.callTool({ name: "memory__read_graph", arguments: {} })).content);
    expect(graph).toContain("Keep");
    expect(graph).not.toContain("smuggled");
  });

  it("a batch hiding a call the caller lacks scope for gets 403 with the challenge", async () => {
    const { transport } = await connect("alice-read");
    const response = await rawPost("alice-read", transport.sessionId, [
      call(1, "memory__read_graph"),
      call(2, "web__set_value", { value: "x" }),
    ]);
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain('scope="mcp:write mcp:admin"');
  });
});

describe("sessions", () => {
  it("a token for user B on user A's session is refused with 404 and A's session keeps working", async () => {
    const alice = await connect("alice-read");
    const response = await rawPost("bob-read", alice.transport.sessionId, call(1, "memory__read_graph"));
    expect(response.status).toBe(404);
    const sse = await fetch(harness.url, {
      headers: {
        authorization: "Bearer bob-read",
        accept: "text/event-stream",
        "mcp-session-id": alice.transport.sessionId ?? "",
      },
    });
    expect(sse.status).toBe(404);
    const del = await fetch(harness.url, {
      method: "DELETE",
      headers: { authorization: "Bearer bob-read", "mcp-session-id": alice.transport.sessionId ?? "" },
    });
    expect(del.status).toBe(404);
    expect(await toolNames(alice.client)).toContain("memory__read_graph");
  });

  it("the same user through another agent (client id) cannot use the session", async () => {
    const alice = await connect("alice-read");
    const response = await rawPost("alice-other-agent", alice.transport.sessionId, call(1, "memory__read_graph"));
    expect(response.status).toBe(404);
  });

  it("the same user with another scope set may continue the session, and gets that token's scopes", async () => {
    const alice = await connect("alice-read");
    const response = await rawPost("alice-write", alice.transport.sessionId, {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/list",
      params: {},
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("memory__create_entities");
  });

  it("each session gets its own upstream clients; closing one leaves the other working", async () => {
    const before = harness.gateway.sessionCount();
    const one = await connect("carol-read");
    const two = await connect("dave-read");
    expect(harness.gateway.sessionCount()).toBe(before + 2);
    await one.transport.terminateSession();
    await expect(two.client.callTool({ name: "web__get_time", arguments: {} })).resolves.toMatchObject({
      content: [{ type: "text" }],
    });
    expect(harness.gateway.sessionCount()).toBe(before + 1);
  });

  it("reports the tools its upstreams listed, by the upstream's own names, for the console's matrix", async () => {
    const { client } = await connect("carol-read");
    const listed = (await client.listTools()).tools.map((tool) => tool.name);
    expect(listed).toContain("web__get_time");
    const tools = harness.gateway.listedTools();
    expect(tools).toContainEqual({ upstream: "web", name: "get_time" });
    // Each once, however many sessions listed it; and what the upstream offers, not only what carol may call.
    expect(new Set(tools.map((t) => `${t.upstream}/${t.name}`)).size).toBe(tools.length);
    expect(tools.length).toBeGreaterThanOrEqual(listed.length);
  });

  it("the SSE stream is marked unbuffered for proxies", async () => {
    const { transport } = await connect("alice-read");
    const controller = new AbortController();
    const sse = await fetch(harness.url, {
      headers: {
        authorization: "Bearer alice-read",
        accept: "text/event-stream",
        "mcp-session-id": transport.sessionId ?? "",
        "mcp-protocol-version": "2025-11-25",
      },
      signal: controller.signal,
    });
    // The client's own GET stream may already be open: either way the answer carries the header.
    expect(sse.headers.get("x-accel-buffering")).toBe("no");
    controller.abort();
  });

  it("a request without a session id that is not initialize is refused with 400", async () => {
    const response = await rawPost("alice-read", undefined, call(1, "memory__read_graph"));
    expect(response.status).toBe(400);
  });

  it("a body over the request size bound is refused with 413 before any session or upstream sees it", async () => {
    const { transport } = await connect("alice-read");
    const limit = 4 * 1024 * 1024; // the bundle's default server.maxRequestBytes
    const response = await rawPost(
      "alice-read",
      transport.sessionId,
      call(1, "web__set_value", { value: "x".repeat(limit) }),
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      error: { code: -32600, message: `request body larger than ${limit} bytes` },
    });
  });
});

describe("forwarding", () => {
  it("progress notifications from the upstream reach the caller under the caller's progress token", async () => {
    const { client } = await connect("alice-read");
    const progress: number[] = [];
    const result = await client.callTool({ name: "web__count_slowly", arguments: { n: 5 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(result.content).toEqual([{ type: "text", text: "counted to 5" }]);
    expect(progress).toEqual([1, 2, 3, 4, 5]);
  });

  it("notifications/tools/list_changed from an upstream is forwarded and the new tool is listed", async () => {
    const { client } = await connect("alice-read");
    await toolNames(client);
    const watcher = toolListWatcher(client);
    web.addTool("new_thing");
    await watcher.until((listed) => listed.includes("web__new_thing"));
    expect(watcher.notifications).toBeGreaterThan(0);
    expect(await toolNames(client)).toContain("web__new_thing");
  });
});
