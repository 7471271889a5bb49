/**
 * Per-role MCP endpoints (`/mcp/<role>`) and the upstream's own tool names, end to end: the real gateway
 * with real oidc-provider tokens, the MCP SDK client downstream, two SDK McpServer upstreams. A role
 * endpoint narrows what is shown and callable; it never widens what the scopes allow.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BundleInput, validateRuntimeBundle } from "../../policies/bundle/index.js";
import {
  TEST_CLIENTS,
  type TestPlatform,
  initializeRequest,
  mcpHeaders,
  startTestPlatform,
} from "../support/gateway.js";
import { connectMcpClient, postMcp, toolCall } from "../support/mcp-client.js";
import { type HttpUpstream, startHttpUpstream } from "./mcp-fixtures.js";

let web: HttpUpstream;
let ledger: HttpUpstream;
let platform: TestPlatform;
const clients: Client[] = [];

const endpoints = [
  // ops: read and write tools of one upstream, under its own names; drop_table is always-blocked anyway.
  { role: "ops", tools: [{ upstream: "web", tools: ["get_*", "set_*", "drop_*"] }], toolNames: "upstream" },
  // audit: one tool of each upstream, namespaced.
  {
    role: "audit",
    tools: [
      { upstream: "web", tools: ["get_time"] },
      { upstream: "ledger", tools: ["whoami"] },
    ],
  },
] as const;

function withEndpoints(bundle: BundleInput): BundleInput {
  return {
    ...bundle,
    mcp: {
      path: "/mcp",
      policy: "default",
      upstreams: [
        { id: "web", transport: { type: "streamable-http", url: web.url } },
        { id: "ledger", transport: { type: "streamable-http", url: ledger.url } },
      ],
      grants: [
        { scope: "mcp:read", upstream: "web", tools: ["get_*", "whoami"] },
        { scope: "mcp:write", upstream: "web", tools: ["set_*"] },
        { scope: "mcp:admin", upstream: "web", tools: ["*"] },
        { scope: "mcp:read", upstream: "ledger", tools: ["*"] },
      ],
      deny: [],
      alwaysBlocked: [{ upstream: "*", tools: ["drop_*"], reason: "destructive" }],
      endpoints: endpoints.map((e) => ({ ...e, tools: e.tools.map((t) => ({ ...t, tools: [...t.tools] })) })),
    },
  };
}

beforeAll(async () => {
  web = await startHttpUpstream();
  ledger = await startHttpUpstream();
  platform = await startTestPlatform({ bundle: withEndpoints });
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await platform?.close();
  await web?.close();
  await ledger?.close();
});

const connect = (token: string, path = "/mcp") => connectMcpClient(`${platform.url}${path}`, token, clients);
const post = (path: string, token: string, sessionId: string | undefined, body: unknown) =>
  postMcp(`${platform.url}${path}`, token, sessionId, body);
const call = toolCall;

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();

describe("per-role MCP endpoints", () => {
  it("a role endpoint lists only the role's tools, under the upstream's own names", async () => {
    const { client } = await connect(await platform.token("admin"), "/mcp/ops");
    expect(await names(client)).toEqual(["get_time", "set_value"]);
    await expect(client.callTool({ name: "set_value", arguments: { value: "v" } })).resolves.toMatchObject({
      content: [{ text: "stored v" }],
    });
    // The same admin sees everything its scopes allow on the main path.
    const main = await connect(await platform.token("admin"));
    expect(await names(main.client)).toEqual(
      expect.arrayContaining(["web__count_slowly", "web__whoami", "ledger__get_time"]),
    );
  });

  it("a tool outside the role is neither listed nor callable there, even for a caller whose scopes allow it", async () => {
    const token = await platform.token("admin");
    const { client, transport } = await connect(token, "/mcp/ops");
    await expect(client.callTool({ name: "whoami", arguments: {} })).rejects.toThrow(/Unknown tool: whoami/);
    // Namespaced names of the main path resolve to nothing on an endpoint with the upstream's own names.
    await expect(client.callTool({ name: "web__whoami", arguments: {} })).rejects.toThrow(/Unknown tool/);
    const answer = await post("/mcp/ops", token, transport.sessionId, call(9, "count_slowly", { n: 1 }));
    expect(answer.status).toBe(200);
    expect(await answer.text()).toMatch(/Unknown tool: count_slowly/);
    expect(platform.audit).toContainEqual(
      expect.objectContaining({ kind: "mcp", decision: "deny", tool: "count_slowly", rule: "unknown tool" }),
    );
  });

  it("never widens: a role tool the scopes do not allow is hidden, and a call gets 403 naming this endpoint's metadata", async () => {
    const token = await platform.token("reader");
    const { client, transport } = await connect(token, "/mcp/ops");
    expect(await names(client)).toEqual(["get_time"]);
    const refused = await post("/mcp/ops", token, transport.sessionId, call(3, "set_value", { value: "x" }));
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toBe(
      `Bearer error="insufficient_scope", resource_metadata="${platform.url}/.well-known/oauth-protected-resource/mcp/ops", scope="mcp:write mcp:admin"`,
    );
  });

  it("the always-blocked list wins on a role endpoint whose patterns name the tool", async () => {
    const { client } = await connect(await platform.token("admin"), "/mcp/ops");
    expect(await names(client)).not.toContain("drop_table");
    await expect(client.callTool({ name: "drop_table", arguments: {} })).rejects.toThrow(/Unknown tool|always-blocked/);
  });

  it("a namespaced role endpoint spans upstreams and shows only the listed tools", async () => {
    const { client } = await connect(await platform.token("admin"), "/mcp/audit");
    expect(await names(client)).toEqual(["ledger__whoami", "web__get_time"]);
    await expect(client.callTool({ name: "ledger__whoami", arguments: {} })).resolves.toMatchObject({
      content: [{ type: "text" }],
    });
  });

  it("a session belongs to the endpoint it was opened on: its id is unknown on another endpoint", async () => {
    const token = await platform.token("admin");
    const ops = await connect(token, "/mcp/ops");
    const elsewhere = await post("/mcp", token, ops.transport.sessionId, call(1, "web__whoami"));
    expect(elsewhere.status).toBe(404);
    const main = await connect(token);
    const onOps = await post("/mcp/ops", token, main.transport.sessionId, call(1, "whoami"));
    expect(onOps.status).toBe(404);
    expect(await names(ops.client)).toEqual(["get_time", "set_value"]);
  });

  it("serves RFC 9728 metadata per role endpoint, and the 401 challenge there names it", async () => {
    const document = await fetch(`${platform.url}/.well-known/oauth-protected-resource/mcp/ops`);
    expect(document.status).toBe(200);
    expect(await document.json()).toMatchObject({
      resource: `${platform.url}/mcp/ops`,
      authorization_servers: [platform.as.issuer],
    });
    const main = (await (await fetch(`${platform.url}/.well-known/oauth-protected-resource/mcp`)).json()) as {
      resource: string;
    };
    expect(main.resource).toBe(`${platform.url}/mcp`);
    const unauthenticated = await fetch(`${platform.url}/mcp/audit`, {
      method: "POST",
      headers: mcpHeaders(),
      body: initializeRequest(),
    });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("www-authenticate")).toContain(
      `resource_metadata="${platform.url}/.well-known/oauth-protected-resource/mcp/audit"`,
    );
    // A role that does not exist is no endpoint: no metadata, no MCP.
    expect((await fetch(`${platform.url}/.well-known/oauth-protected-resource/mcp/nobody`)).status).toBe(404);
    const unknownRole = await post(
      "/mcp/nobody",
      await platform.token("admin"),
      undefined,
      JSON.parse(initializeRequest()),
    );
    expect(unknownRole.status).toBe(404);
  });

  it("the SDK client's OAuth flow discovers the role endpoint's own metadata and connects with nothing but its URL", async () => {
    const provider = new ClientCredentialsProvider({
      clientId: TEST_CLIENTS.admin.clientId,
      clientSecret: TEST_CLIENTS.admin.clientSecret,
      scope: "mcp:read mcp:write",
      expectedIssuer: platform.as.issuer,
    });
    const client = new Client({ name: "oauth-role-agent", version: "0" });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp/ops`), { authProvider: provider }),
    );
    expect(await names(client)).toEqual(["get_time", "set_value"]);
  });

  it("a stateless (2026-07-28) tools/list on a role endpoint shows only the role's tools", async () => {
    const token = await platform.token("admin");
    const envelope = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": { name: "stateless", version: "0" },
    };
    const response = await fetch(`${platform.url}/mcp/ops`, {
      method: "POST",
      headers: { ...mcpHeaders(token), "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: { tools: { name: string }[] } };
    expect(body.result.tools.map((t) => t.name).sort()).toEqual(["get_time", "set_value"]);
  });
});

describe("the bundle's catalog fields", () => {
  const base = (mcp: Record<string, unknown>): unknown => {
    const bundle = withEndpoints({
      apiVersion: "tollgate.dev/v1alpha1",
      kind: "GatewayBundle",
      metadata: { environment: "dev", stack: "test", gateway: "gateway" },
      server: { publicUrl: "https://gw.example.com" },
      auth: { issuer: "https://issuer.example.com", audiences: ["https://gw.example.com"] },
      protectedResource: {
        resource: "https://gw.example.com/mcp",
        authorizationServers: ["https://issuer.example.com"],
      },
      guardPolicies: [{ id: "default" }],
    } as BundleInput);
    return { ...bundle, mcp: { ...bundle.mcp, ...mcp } };
  };
  const issuesOf = (bundle: unknown) => {
    const result = validateRuntimeBundle(bundle);
    return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
  };

  it("own names where two upstreams could collide are refused, naming the field and the fix", () => {
    expect(issuesOf(base({ toolNames: "upstream" }))).toEqual([
      expect.stringMatching(
        /^mcp\.toolNames: "upstream" .* needs a single upstream, found 2 \(web, ledger\) .*set toolNames "namespaced"/,
      ),
    ]);
    const twoUpstreams = base({
      endpoints: [
        {
          role: "mixed",
          tools: [
            { upstream: "web", tools: ["*"] },
            { upstream: "ledger", tools: ["*"] },
          ],
          toolNames: "upstream",
        },
      ],
    });
    expect(issuesOf(twoUpstreams)).toEqual([
      expect.stringMatching(
        /^mcp\.endpoints\[0\]\.toolNames: .*\/mcp\/mixed needs tools of a single upstream.*one endpoint per upstream/,
      ),
    ]);
  });

  it("an unknown upstream or a repeated role is refused", () => {
    const bad = base({
      endpoints: [
        { role: "ops", tools: [{ upstream: "nope", tools: ["*"] }] },
        { role: "ops", tools: [{ upstream: "web", tools: ["*"] }] },
      ],
    });
    expect(issuesOf(bad)).toEqual([
      expect.stringMatching(
        /^mcp\.endpoints\[0\]\.tools\[0\]\.upstream: unknown upstream "nope" \(the upstreams: web, ledger\)/,
      ),
      expect.stringMatching(/^mcp\.endpoints\[1\]\.role: duplicate role "ops"/),
    ]);
  });
});
