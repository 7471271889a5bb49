/**
 * Progressive discovery end to end: a real 200-tool MCP upstream, the real gateway with real oidc-provider
 * tokens, the official MCP SDK client. The client starts with two meta-tools, searches, selects, receives
 * notifications/tools/list_changed and sees its working set. Attacks: searching for, selecting and then
 * calling a tool the scopes hide (or the always-blocked list refuses) reveals and enables nothing.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";
import { connectMcpClient, postMcp, toolCall } from "../support/mcp-client.js";
import { type CatalogUpstream, startCatalogUpstream } from "./mcp-catalog-fixture.js";
import { RuntimeBundleSchema } from "../../policies/bundle/index.js";
import { memorySessionRecords } from "../../runtime/mcp/session-records.js";
import { toolListWatcher } from "./mcp-fixtures.js";
import { principal, startHarness } from "./mcp-harness.js";

const SEARCH = "tollgate_search_tools";
const SELECT = "tollgate_select_tools";

let crm: CatalogUpstream;
let platform: TestPlatform;
const clients: Client[] = [];

beforeAll(async () => {
  crm = await startCatalogUpstream(200);
  platform = await startTestPlatform({
    bundle: (bundle) => ({
      ...bundle,
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [{ id: "crm", transport: { type: "streamable-http", url: crm.url } }],
        grants: [
          { scope: "mcp:read", upstream: "crm", tools: ["*_get_*", "*_list_*", "*_export_*"] },
          { scope: "mcp:write", upstream: "crm", tools: ["*_update_*"] },
          { scope: "mcp:admin", upstream: "crm", tools: ["*"] },
        ],
        deny: [],
        alwaysBlocked: [{ upstream: "*", tools: ["*delete*"], reason: "destructive" }],
        toolNames: "upstream",
        discovery: "progressive",
        endpoints: [
          { role: "billing", tools: [{ upstream: "crm", tools: ["invoice_*"] }], discovery: "progressive" },
          { role: "full", tools: [{ upstream: "crm", tools: ["*"] }], toolNames: "upstream" },
        ],
      },
    }),
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await platform?.close();
  await crm?.close();
});

const connect = (token: string, path = "/mcp") => connectMcpClient(`${platform.url}${path}`, token, clients);

interface SearchPage {
  total: number;
  tools: { name: string; description?: string }[];
  nextCursor?: string;
}

async function searchAll(client: Client, query?: string): Promise<SearchPage["tools"]> {
  const found: SearchPage["tools"] = [];
  let cursor: string | undefined;
  do {
    const page = (
      await client.callTool({
        name: SEARCH,
        arguments: { ...(query !== undefined ? { query } : {}), limit: 50, ...(cursor ? { cursor } : {}) },
      })
    ).structuredContent as unknown as SearchPage;
    found.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return found;
}

const selectTools = async (client: Client, names: string[], mode?: string) =>
  (await client.callTool({ name: SELECT, arguments: { names, ...(mode ? { mode } : {}) } })).structuredContent as {
    workingSet: string[];
    notFound: string[];
  };

describe("progressive discovery over a 200-tool catalog", () => {
  it("lists two meta-tools, browses the allowed catalog a page at a time, and finds by words", async () => {
    const { client } = await connect(await platform.token("reader"));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual([SEARCH, SELECT]);
    const first = (await client.callTool({ name: SEARCH, arguments: {} })).structuredContent as unknown as SearchPage;
    expect(first).toMatchObject({ total: 120, nextCursor: "20" });
    expect(first.tools).toHaveLength(20);
    // Read scope: get, list and export of every domain (3 × 40); update needs mcp:write, delete is always blocked.
    const all = await searchAll(client);
    expect(all).toHaveLength(120);
    expect(all.filter((t) => /_(update|delete)_/.test(t.name))).toEqual([]);
    const invoiceExports = await searchAll(client, "invoice EXPORT");
    expect(invoiceExports.map((t) => t.name)).toEqual(crm.names.filter((n) => n.startsWith("invoice_export_")).sort());
    expect(invoiceExports).toHaveLength(8);
  });

  it("selecting tools sends list_changed, and the client then lists its working set and calls it", async () => {
    const token = await platform.token("reader");
    const { client, transport } = await connect(token);
    const watcher = toolListWatcher(client);
    await client.listTools();
    const before = watcher.notifications;
    const answer = await selectTools(client, ["invoice_export_016", "ticket_get_002", "report_list_009"]);
    // Sent on the select call's own stream, ahead of its answer.
    expect(watcher.notifications).toBeGreaterThan(before);
    expect(answer).toEqual({
      workingSet: ["invoice_export_016", "report_list_009", "ticket_get_002"],
      notFound: [],
    });
    const listed = await watcher.until((names) => names.length === 5);
    expect(listed).toEqual([SEARCH, SELECT, "invoice_export_016", "report_list_009", "ticket_get_002"]);
    await expect(client.callTool({ name: "ticket_get_002", arguments: {} })).resolves.toMatchObject({
      content: [{ text: "ran ticket_get_002" }],
    });
    const raw = await postMcp(
      `${platform.url}/mcp`,
      token,
      transport.sessionId,
      toolCall(99, SELECT, { names: ["order_get_003"] }),
    );
    const stream = await raw.text();
    expect(stream.indexOf('"method":"notifications/tools/list_changed"')).toBeGreaterThan(-1);
    expect(stream.indexOf("notifications/tools/list_changed")).toBeLessThan(stream.indexOf('"id":99'));
    await watcher.until((names) => names.includes("order_get_003"));
    await selectTools(client, ["order_get_003"], "remove");
    const removed = await selectTools(client, ["ticket_get_002"], "remove");
    expect(removed.workingSet).toEqual(["invoice_export_016", "report_list_009"]);
    await watcher.until((names) => names.length === 4);
  });

  it("attacker: a hidden tool is never found, cannot be selected (no list_changed), and stays refused after selecting", async () => {
    const token = await platform.token("reader");
    const { client, transport } = await connect(token);
    for (const query of ["invoice_update_011", "update", "contact_delete_020", "delete"])
      expect(await searchAll(client, query), query).toEqual([]);
    const call = (id: number, name: string, args: Record<string, unknown> = {}) =>
      postMcp(`${platform.url}/mcp`, token, transport.sessionId, toolCall(id, name, args));
    const selecting = await (
      await call(0, SELECT, { names: ["invoice_update_011", "contact_delete_020", "no_such_tool"] })
    ).text();
    expect(selecting).toContain(
      JSON.stringify({ workingSet: [], notFound: ["invoice_update_011", "contact_delete_020", "no_such_tool"] }),
    );
    // Nothing changed, so nothing was announced on the select call's stream: the list is still the meta-tools.
    expect(selecting).not.toContain("list_changed");
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual([SEARCH, SELECT]);
    const update = await call(1, "invoice_update_011");
    expect(update.status).toBe(403);
    expect(update.headers.get("www-authenticate")).toContain('scope="mcp:write mcp:admin"');
    const destroy = await call(2, "contact_delete_020");
    expect(await destroy.text()).toMatch(/always-blocked: destructive/);
    // A batch smuggling a hidden call beside a meta-tool call is refused whole.
    const batch = await postMcp(`${platform.url}/mcp`, token, transport.sessionId, [
      toolCall(3, SELECT, { names: ["ticket_get_002"] }),
      toolCall(4, "invoice_update_011"),
    ]);
    expect(batch.status).toBe(403);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual([SEARCH, SELECT]);
  });

  it("the working set is re-decided with each listing's scopes: a writer's selection is not a reader's", async () => {
    const writer = await connect(await platform.token("writer"));
    expect(await searchAll(writer.client, "update")).toHaveLength(40);
    expect(await selectTools(writer.client, ["invoice_update_011"])).toMatchObject({ notFound: [] });
    await expect(writer.client.callTool({ name: "invoice_update_011", arguments: {} })).resolves.toMatchObject({
      content: [{ text: "ran invoice_update_011" }],
    });
  });

  it("a progressive role endpoint searches only the role's tools", async () => {
    const { client } = await connect(await platform.token("reader"), "/mcp/billing");
    const all = await searchAll(client);
    expect(all).toHaveLength(24);
    expect(all.every((t) => t.name.startsWith("crm__invoice_"))).toBe(true);
    expect(await selectTools(client, ["crm__ticket_get_002"])).toMatchObject({ notFound: ["crm__ticket_get_002"] });
  });

  it("measures what a client receives from tools/list: the full allowed catalog against the progressive start", async () => {
    const token = await platform.token("reader");
    const full = await connect(token, "/mcp/full");
    const progressive = await connect(token);
    const fullList = (await full.client.listTools()).tools;
    const startList = (await progressive.client.listTools()).tools;
    expect(fullList).toHaveLength(120);
    const bytes = (tools: unknown) => Buffer.byteLength(JSON.stringify(tools));
    console.log(
      `tools/list for a read-scope caller of a 200-tool catalog: all ${fullList.length} tools ${bytes(fullList)} bytes; progressive start ${startList.length} tools ${bytes(startList)} bytes`,
    );
    expect(bytes(startList)).toBeLessThan(bytes(fullList) / 5);
  });
});

describe("progressive discovery across replicas", () => {
  it("a session resumed by another gateway keeps its working set (it is in the session's record)", async () => {
    const bundle = RuntimeBundleSchema.parse({
      apiVersion: "tollgate.dev/v1alpha1",
      kind: "GatewayBundle",
      metadata: { environment: "dev", stack: "test", gateway: "gateway" },
      server: { publicUrl: "http://127.0.0.1:1" },
      auth: { issuer: "http://127.0.0.1:2", audiences: ["http://127.0.0.1:1"] },
      protectedResource: { resource: "http://127.0.0.1:1/mcp", authorizationServers: ["http://127.0.0.1:2"] },
      mcp: {
        policy: "default",
        upstreams: [{ id: "crm", transport: { type: "streamable-http", url: crm.url } }],
        grants: [{ scope: "mcp:read", upstream: "crm", tools: ["*_get_*"] }],
        toolNames: "upstream",
        discovery: "progressive",
      },
      guardPolicies: [{ id: "default" }],
    });
    const records = memorySessionRecords(60_000);
    const alice = principal("alice", ["mcp:read"]);
    const first = await startHarness(bundle, { alice }, undefined, { sessionRecords: records });
    const second = await startHarness(bundle, { alice }, undefined, { sessionRecords: records });
    try {
      const { client, transport } = await connectMcpClient(first.url, "alice", clients);
      await selectTools(client, ["ticket_get_002", "order_get_003"]);
      const listed = await (
        await postMcp(second.url, "alice", transport.sessionId, { jsonrpc: "2.0", id: 7, method: "tools/list" })
      ).text();
      expect(second.gateway.sessionCount()).toBe(1);
      expect([...listed.matchAll(/"name":"([a-z_0-9]+)"/g)].map((m) => m[1])).toEqual([
        SEARCH,
        SELECT,
        "order_get_003",
        "ticket_get_002",
      ]);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
