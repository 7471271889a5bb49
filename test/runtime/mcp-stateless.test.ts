/**
 * MCP 2026-07-28 (stateless Streamable HTTP) through the real gateway (`startTestPlatform`) with real tokens
 * from the oidc-provider stand-in: the v2 SDK client pinned to 2026-07-28 next to a 2025-era 1.x client on
 * the same gateway, server-memory (stdio) and an SDK McpServer (streamable HTTP) upstream. The attacker's
 * side is raw fetch with headers that do not describe the body.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client as StatelessClient,
  StreamableHTTPClientTransport as StatelessTransport,
} from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type TestPlatform, mcpHeaders, startTestPlatform } from "../support/gateway.js";
import { type HttpUpstream, SERVER_MEMORY_ENTRY, startHttpUpstream } from "./mcp-fixtures.js";

const VERSION = "2026-07-28";
let dir: string;
let web: HttpUpstream;
let platform: TestPlatform;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-stateless-"));
  web = await startHttpUpstream();
  platform = await startTestPlatform({
    bundle: (bundle) => ({
      ...bundle,
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [
          {
            id: "memory",
            transport: {
              type: "stdio",
              command: "node",
              args: [SERVER_MEMORY_ENTRY],
              env: { MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
            },
          },
          { id: "web", transport: { type: "streamable-http", url: web.url } },
        ],
        grants: [
          { scope: "mcp:read", upstream: "memory", tools: ["read_graph", "search_nodes", "open_nodes"] },
          { scope: "mcp:write", upstream: "memory", tools: ["create_*", "add_*"] },
          { scope: "mcp:admin", upstream: "memory", tools: ["*"] },
          { scope: "mcp:read", upstream: "web", tools: ["get_*"] },
          { scope: "mcp:write", upstream: "web", tools: ["set_*"] },
        ],
        deny: [],
        alwaysBlocked: [{ upstream: "*", tools: ["*delete*"], reason: "destructive" }],
      },
    }),
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close().catch(() => {})));
});

afterAll(async () => {
  await platform?.close();
  await web?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function statelessClient(token: string): Promise<StatelessClient> {
  const client = new StatelessClient(
    { name: "stateless-agent", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: VERSION } } },
  );
  await client.connect(
    new StatelessTransport(new URL(platform.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      onInsufficientScope: "throw",
    }),
  );
  closers.push(() => client.close());
  return client;
}

async function legacyClient(token: string): Promise<Client> {
  const client = new Client({ name: "legacy-agent", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(platform.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  closers.push(() => client.close());
  return client;
}

const envelope = {
  "io.modelcontextprotocol/protocolVersion": VERSION,
  "io.modelcontextprotocol/clientCapabilities": {},
};

function statelessCall(id: number, name: string, args: Record<string, unknown> = {}) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args, _meta: envelope } };
}

/** A 2026-07-28 POST with the headers the caller chooses (undefined leaves one out). */
function rawPost(token: string | undefined, body: unknown, headers: Record<string, string | undefined>) {
  const sent: Record<string, string> = { ...mcpHeaders(token), "mcp-protocol-version": VERSION };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) delete sent[name];
    else sent[name] = value;
  }
  return fetch(platform.mcpUrl, { method: "POST", headers: sent, body: JSON.stringify(body) });
}

describe("a stateless 2026-07-28 client through the gateway", () => {
  it("negotiates 2026-07-28 and lists exactly the tools a 2025-era client sees with the same token", async () => {
    const token = await platform.token("reader");
    const stateless = await statelessClient(token);
    const legacy = await legacyClient(token);
    expect(stateless.getNegotiatedProtocolVersion()).toBe(VERSION);
    const expected = ["memory__open_nodes", "memory__read_graph", "memory__search_nodes", "web__get_time"];
    // An upstream slower to start than the first list joins later, on both paths alike: wait until both see it.
    const names = async (list: () => Promise<{ tools: { name: string }[] }>) =>
      (await list()).tools.map((t) => t.name).sort();
    await expect.poll(() => names(() => stateless.listTools()), { timeout: 20_000 }).toEqual(expected);
    await expect.poll(() => names(() => legacy.listTools()), { timeout: 20_000 }).toEqual(expected);
    const statelessTools = (await stateless.listTools()).tools;
    // 2026-07-28 removed a tool's `execution` (task support); everything else is the same list.
    const legacyTools = (await legacy.listTools()).tools.map(({ execution: _removed, ...tool }) => tool);
    expect(statelessTools).toEqual(legacyTools);
  });

  it("a stateless tools/list is a 2026-07-28 result with caching hints that keep it private and uncached", async () => {
    const response = await rawPost(
      await platform.token("reader"),
      { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } },
      { "mcp-method": "tools/list" },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toBeNull();
    const { result } = (await response.json()) as { result: Record<string, unknown> };
    expect(result).toMatchObject({
      resultType: "complete",
      ttlMs: 0,
      cacheScope: "private",
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "tollgate" } },
    });
    expect((result.tools as object[]).some((tool) => "execution" in tool)).toBe(false);
  });

  it("calls an allowed tool, and the call is audited as allowed", async () => {
    const client = await statelessClient(await platform.token("writer"));
    await client.callTool({
      name: "memory__create_entities",
      arguments: { entities: [{ name: "Grace", entityType: "person", observations: ["stateless"] }] },
    });
    const graph = await client.callTool({ name: "memory__read_graph", arguments: {} });
    expect(JSON.stringify(graph.content)).toContain("Grace");
    const time = await client.callTool({ name: "web__get_time", arguments: {} });
    expect(time.content).toEqual([{ type: "text", text: new Date(0).toISOString() }]);
    expect(platform.audit).toContainEqual(
      expect.objectContaining({ kind: "mcp", decision: "allow", tool: "memory__create_entities" }),
    );
  });

  it("is refused a tool its scopes do not grant, with the step-up challenge", async () => {
    const client = await statelessClient(await platform.token("reader"));
    await expect(
      client.callTool({ name: "memory__create_entities", arguments: { entities: [] } }),
    ).rejects.toMatchObject({ name: "InsufficientScopeError" });
    const response = await rawPost(await platform.token("reader"), statelessCall(3, "web__set_value", { value: "x" }), {
      "mcp-method": "tools/call",
      "mcp-name": "web__set_value",
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toMatch(/error="insufficient_scope".*scope="mcp:write"/);
  });

  it("is refused an always-blocked tool whatever its scopes", async () => {
    const client = await statelessClient(await platform.token("admin"));
    await expect(
      client.callTool({ name: "memory__delete_entities", arguments: { entityNames: ["Grace"] } }),
    ).rejects.toThrow(/refused: always-blocked: destructive/);
    expect(platform.audit).toContainEqual(
      expect.objectContaining({
        decision: "block",
        tool: "memory__delete_entities",
        rule: "always-blocked: destructive",
      }),
    );
  });

  it("a 2025-era client keeps its session alongside stateless traffic", async () => {
    const token = await platform.token("reader");
    const legacy = await legacyClient(token);
    const stateless = await statelessClient(token);
    await stateless.callTool({ name: "web__get_time", arguments: {} });
    const result = await legacy.callTool({ name: "web__get_time", arguments: {} });
    expect(result.content).toEqual([{ type: "text", text: new Date(0).toISOString() }]);
  });
});

describe("the headers of a stateless request are checked against the body, never trusted", () => {
  it("Mcp-Name naming an allowed tool while the body calls a forbidden one is refused and audited", async () => {
    const token = await platform.token("reader");
    const before = web.authorizations.length;
    const response = await rawPost(token, statelessCall(11, "memory__create_entities", { entities: [] }), {
      "mcp-method": "tools/call",
      "mcp-name": "web__get_time",
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { id: unknown; error: { code: number; message: string } };
    expect(body).toMatchObject({ id: 11, error: { code: -32020 } });
    expect(body.error.message).toContain("Mcp-Name");
    expect(platform.audit).toContainEqual(
      expect.objectContaining({
        kind: "mcp",
        decision: "deny",
        tool: "memory__create_entities",
        rule: "mcp header: Mcp-Name disagrees with the body",
        status: 400,
      }),
    );
    expect(platform.audit).not.toContainEqual(
      expect.objectContaining({ decision: "allow", tool: "memory__create_entities", client: "reader-agent" }),
    );
    expect(web.authorizations.length).toBe(before);
  });

  it("Mcp-Method disagreeing with the body is refused and audited", async () => {
    const response = await rawPost(await platform.token("reader"), statelessCall(12, "web__get_time"), {
      "mcp-method": "tools/list",
      "mcp-name": "web__get_time",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ id: 12, error: { code: -32020 } });
    expect(platform.audit).toContainEqual(
      expect.objectContaining({ decision: "deny", rule: "mcp header: Mcp-Method disagrees with the body" }),
    );
  });

  it("a missing Mcp-Method, Mcp-Name or MCP-Protocol-Version header is refused", async () => {
    const token = await platform.token("reader");
    const cases: Record<string, string | undefined>[] = [
      { "mcp-name": "web__get_time" },
      { "mcp-method": "tools/call" },
      { "mcp-method": "tools/call", "mcp-name": "web__get_time", "mcp-protocol-version": undefined },
    ];
    for (const headers of cases) {
      const response = await rawPost(token, statelessCall(13, "web__get_time"), headers);
      expect(response.status, JSON.stringify(headers)).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: -32020 } });
    }
  });

  it("a batch carrying a stateless request is refused", async () => {
    const response = await rawPost(
      await platform.token("reader"),
      [statelessCall(14, "web__get_time"), statelessCall(15, "memory__delete_entities", { entityNames: [] })],
      { "mcp-method": "tools/call" },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32600 } });
  });

  it("a base64-encoded Mcp-Name that matches the body is accepted", async () => {
    const response = await rawPost(await platform.token("reader"), statelessCall(16, "web__get_time"), {
      "mcp-method": "tools/call",
      "mcp-name": `=?base64?${Buffer.from("web__get_time").toString("base64")}?=`,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: 16, result: { resultType: "complete" } });
  });

  it("without a token the request gets the 401 challenge naming the resource metadata", async () => {
    const response = await rawPost(undefined, statelessCall(17, "web__get_time"), {
      "mcp-method": "tools/call",
      "mcp-name": "web__get_time",
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer .*resource_metadata="[^"]+"/);
  });
});
