/**
 * The MCP gateway end to end: the real gateway server (`startGateway`) with real tokens from the
 * oidc-provider Okta stand-in, the MCP SDK Client downstream, server-memory (stdio) and an SDK McpServer
 * (streamable HTTP) upstream, and a third upstream reached with RFC 8693 token exchange.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TEST_CLIENTS, type TestPlatform, mcpHeaders, startTestPlatform } from "../support/gateway.js";
import { type HttpUpstream, SERVER_MEMORY_ENTRY, startHttpUpstream } from "./mcp-fixtures.js";

const EXCHANGE_AUDIENCE = "http://exchange-upstream.test";
let dir: string;
let web: HttpUpstream;
let exchanged: HttpUpstream;
let service: HttpUpstream;
let platform: TestPlatform;
const clients: Client[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-e2e-"));
  web = await startHttpUpstream();
  exchanged = await startHttpUpstream();
  service = await startHttpUpstream();
  platform = await startTestPlatform({
    exchangeAudiences: [EXCHANGE_AUDIENCE],
    env: {
      TG_DELEGATE_SECRET: TEST_CLIENTS.delegate.clientSecret,
      TG_SERVICE_SECRET: TEST_CLIENTS.reader.clientSecret,
    },
    bundle: (bundle, { issuer }) => ({
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
          {
            id: "ledger",
            transport: { type: "streamable-http", url: exchanged.url },
            credentials: {
              mode: "token-exchange",
              tokenUrl: `${issuer}/token`,
              clientId: TEST_CLIENTS.delegate.clientId,
              clientSecret: { env: "TG_DELEGATE_SECRET" },
              audience: EXCHANGE_AUDIENCE,
            },
          },
          {
            id: "service",
            transport: { type: "streamable-http", url: service.url },
            credentials: {
              mode: "client-credentials",
              tokenUrl: `${issuer}/token`,
              clientId: TEST_CLIENTS.reader.clientId,
              clientSecret: { env: "TG_SERVICE_SECRET" },
              scopes: ["mcp:read"],
            },
          },
        ],
        grants: [
          { scope: "mcp:read", upstream: "memory", tools: ["read_graph", "search_nodes", "open_nodes"] },
          { scope: "mcp:write", upstream: "memory", tools: ["create_*", "add_*"] },
          { scope: "mcp:admin", upstream: "memory", tools: ["*"] },
          { scope: "mcp:read", upstream: "web", tools: ["get_*"] },
          { scope: "mcp:write", upstream: "web", tools: ["set_*"] },
          { scope: "mcp:read", upstream: "ledger", tools: ["whoami"] },
          { scope: "mcp:read", upstream: "service", tools: ["whoami"] },
        ],
        deny: [],
        alwaysBlocked: [{ upstream: "*", tools: ["*delete*"], reason: "destructive" }],
      },
    }),
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await platform?.close();
  await web?.close();
  await exchanged?.close();
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(token: string) {
  const transport = new StreamableHTTPClientTransport(new URL(platform.mcpUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "e2e-agent", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();

function post(token: string, sessionId: string | undefined, body: unknown) {
  return fetch(platform.mcpUrl, {
    method: "POST",
    headers: {
      ...mcpHeaders(token),
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

describe("MCP through the real gateway with real tokens", () => {
  it("with tracing off, tool calls still reach the metrics: upstream latency and upstream health", async () => {
    expect(platform.gateway.telemetry.tracingEnabled).toBe(false);
    const { client } = await connect(await platform.token("reader"));
    await client.callTool({ name: "web__get_time", arguments: {} });
    const metrics = await platform.gateway.telemetry.metrics.render();
    expect(metrics).toMatch(
      /tollgate_upstream_latency_seconds_count\{kind="mcp",target="web",provider="web",outcome="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(/tollgate_mcp_upstream_up\{upstream="web"\} 1/);
  });

  it("a read-scope agent sees and calls only read tools; a write call gets 403 insufficient_scope", async () => {
    const token = await platform.token("reader");
    const { client, transport } = await connect(token);
    expect(await names(client)).toEqual([
      "ledger__whoami",
      "memory__open_nodes",
      "memory__read_graph",
      "memory__search_nodes",
      "service__whoami",
      "web__get_time",
    ]);
    await expect(client.callTool({ name: "web__get_time", arguments: {} })).resolves.toMatchObject({
      content: [{ type: "text" }],
    });
    const refused = await post(token, transport.sessionId, call(5, "web__set_value", { value: "x" }));
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toBe(
      `Bearer error="insufficient_scope", resource_metadata="${platform.url}/.well-known/oauth-protected-resource/mcp", scope="mcp:write"`,
    );
  });

  it("write scope adds write tools; delete tools are refused even to an admin", async () => {
    const writer = await connect(await platform.token("writer"));
    expect(await names(writer.client)).toEqual(expect.arrayContaining(["memory__create_entities", "web__set_value"]));
    await expect(writer.client.callTool({ name: "web__set_value", arguments: { value: "v" } })).resolves.toMatchObject({
      content: [{ text: "stored v" }],
    });
    const admin = await connect(await platform.token("admin"));
    expect((await names(admin.client)).filter((n) => n.includes("delete"))).toEqual([]);
    await expect(
      admin.client.callTool({ name: "memory__delete_entities", arguments: { entityNames: ["x"] } }),
    ).rejects.toThrow(/always-blocked: destructive/);
    await expect(admin.client.callTool({ name: "memory__nope", arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  it("a batched JSON-RPC array hiding a forbidden call is refused", async () => {
    const token = await platform.token("reader");
    const { transport } = await connect(token);
    const response = await post(token, transport.sessionId, [
      call(1, "web__get_time"),
      call(2, "memory__create_entities", { entities: [] }),
    ]);
    expect(response.status).toBe(403);
  });

  it("a token for user B on user A's session is refused", async () => {
    const alice = await connect(await platform.userToken("alice", ["mcp:read"]));
    const bobToken = await platform.userToken("bob", ["mcp:read"]);
    const hijack = await post(bobToken, alice.transport.sessionId, call(1, "memory__read_graph"));
    expect(hijack.status).toBe(404);
    expect(await names(alice.client)).toContain("memory__read_graph");
  });

  it("a token-exchange upstream receives a token with sub = user and act = the agent, never the inbound token", async () => {
    const userToken = await platform.userToken("alice", ["mcp:read"]);
    const { client } = await connect(userToken);
    const result = await client.callTool({ name: "ledger__whoami", arguments: {} });
    const received = (result.content as { text: string }[])[0]?.text ?? "";
    expect(received).not.toBe("");
    expect(received).not.toBe(userToken);
    const claims = decodeJwt(received);
    expect(claims.sub).toBe("alice");
    expect(claims.act).toEqual({ sub: TEST_CLIENTS.delegate.clientId });
    expect(claims.aud).toBe(EXCHANGE_AUDIENCE);
    expect([...web.authorizations, ...exchanged.authorizations].some((a) => a?.includes(userToken))).toBe(false);
  });

  it("a client-credentials upstream gets the gateway's own token, fetched once and reused until it expires", async () => {
    const userToken = await platform.userToken("alice", ["mcp:read"]);
    const { client } = await connect(userToken);
    const first =
      ((await client.callTool({ name: "service__whoami", arguments: {} })).content as { text: string }[])[0]?.text ??
      "";
    const second =
      ((await client.callTool({ name: "service__whoami", arguments: {} })).content as { text: string }[])[0]?.text ??
      "";
    expect(first).not.toBe(userToken);
    expect(decodeJwt(first)).toMatchObject({ sub: TEST_CLIENTS.reader.clientId, cid: TEST_CLIENTS.reader.clientId });
    expect(second).toBe(first);
  });
});
