/**
 * The local platform end to end: exactly what `npm start` starts (the same `startLocalPlatform`, on an
 * ephemeral gateway port), driven with real clients through the documented checks of the reference
 * environment — tokens from the oidc-provider stand-in via the real `tollgate dev token` CLI, the MCP SDK
 * client, the official openai SDK — then shut down, checking that no process is left behind.
 *
 * The steps share one platform and run in order (vitest runs a file's tests sequentially).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMcp } from "../../examples/local-platform/mcp-client.js";
import { MEMORY_TOOLS } from "../../examples/local-platform/local-overlay.js";
import { type LocalPlatform, describePlatform, startLocalPlatform } from "../../examples/local-platform/start.js";
import { groupMembers, survivorsAfter } from "./process-table.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const SSN = "123-45-6789";
/** Tools of @modelcontextprotocol/server-filesystem (the other stand-in upstream). */
const FILESYSTEM_TOOLS = [
  "read_file",
  "read_text_file",
  "read_media_file",
  "read_multiple_files",
  "write_file",
  "edit_file",
  "create_directory",
  "list_directory",
  "list_directory_with_sizes",
  "directory_tree",
  "move_file",
  "search_files",
  "get_file_info",
  "list_allowed_directories",
];

interface BundleView {
  mcp: {
    upstreams: { id: string; transport: { type: string; operations?: { tool: string }[] } }[];
    grants: { scope: string; upstream: string; tools: string[] }[];
    deny?: { upstream: string; tools: string[] }[];
    alwaysBlocked: { upstream: string; tools: string[] }[];
  };
  llm: { routes: { id: string; pathPrefix: string; policy: string; providers: { id: string }[] }[] };
  guardPolicies: { id: string; limits?: { requestsPerWindow?: number } }[];
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
}

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );

/**
 * The test's own reading of the bundle (independent of policies/tools): tools visible to `scopes`,
 * namespaced. Default deny; deny and always-blocked win.
 */
function expectedVisible(
  bundle: BundleView,
  servers: Readonly<Record<string, string>>,
  scopes: readonly string[],
): string[] {
  const visible: string[] = [];
  for (const upstream of bundle.mcp.upstreams) {
    const tools =
      upstream.transport.type === "openapi"
        ? (upstream.transport.operations ?? []).map((o) => o.tool)
        : servers[upstream.id] === "memory"
          ? MEMORY_TOOLS
          : FILESYSTEM_TOOLS;
    for (const tool of tools) {
      const matches = (rules: { upstream: string; tools: string[] }[] | undefined) =>
        (rules ?? []).some(
          (r) => (r.upstream === "*" || r.upstream === upstream.id) && r.tools.some((p) => glob(p).test(tool)),
        );
      if (matches(bundle.mcp.alwaysBlocked) || matches(bundle.mcp.deny)) continue;
      if (
        bundle.mcp.grants.some(
          (g) => scopes.includes(g.scope) && g.upstream === upstream.id && g.tools.some((p) => glob(p).test(tool)),
        )
      ) {
        visible.push(`${upstream.id}__${tool}`);
      }
    }
  }
  return visible.sort();
}

function portRefuses(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise) => {
    const socket = connect(Number(port), hostname);
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.once("error", () => resolvePromise(true));
  });
}

describe("the local platform (npm start)", () => {
  let platform: LocalPlatform;
  let stateDir: string;
  let bundle: BundleView;
  let agentRead: string;
  let aliceAdmin: string;
  let alice: string;
  const clients: Client[] = [];

  async function devToken(...args: string[]): Promise<string> {
    const { stdout } = await run(
      process.execPath,
      [join(ROOT, "bin/tollgate.mjs"), "dev", "token", "--state", platform.statePath, ...args],
      { cwd: ROOT },
    );
    return stdout.trim();
  }

  async function mcp(token: string): Promise<Client> {
    const client = await connectMcp(platform.mcpUrl, token);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "tollgate-e2e-"));
    platform = await startLocalPlatform({ port: 0, stateDir });
    bundle = platform.bundle as unknown as BundleView;
    [agentRead, aliceAdmin, alice] = await Promise.all([
      devToken("--scopes", "mcp:read"),
      devToken("--user", "alice", "--scopes", "mcp:read mcp:write mcp:admin"),
      devToken("--user", "alice", "--scopes", "mcp:read mcp:write"),
    ]);
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("issues a client-credentials token with the gateway's issuer, audience, scopes and expiry", () => {
    const claims = claimsOf(agentRead);
    expect(claims.iss).toBe(platform.issuer);
    expect(claims.aud).toBe(platform.audience);
    expect(claims.scp).toEqual(["mcp:read"]);
    expect(claims.cid).toBe(
      platform.clients.find((c) => c.grantTypes.includes("client_credentials") && !c.agentId)?.clientId,
    );
    const now = Date.now() / 1000;
    expect(claims.exp).toBeGreaterThan(now);
    expect(claims.exp).toBeLessThanOrEqual(now + 60 * 60 + 5);
    expect(claimsOf(alice).sub).toBe("alice");
  });

  it("a read-scope caller sees exactly the read tools in tools/list, through the MCP SDK client", async () => {
    const client = await mcp(agentRead);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    const expected = expectedVisible(bundle, platform.mcpServers, ["mcp:read"]);
    expect(expected.length).toBeGreaterThan(0);
    expect(names).toEqual(expected);
    expect(names).toContain("github__search_nodes");
    expect(names).not.toContain("github__create_entities");
    expect(names.filter((n) => n.includes("delete"))).toEqual([]);
  });

  it("a write tool called with a read-scope token gets 403 insufficient_scope naming the scope that allows it", async () => {
    const client = clients[0] as Client;
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;
    expect(sessionId).toBeTruthy();
    const response = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${agentRead}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sessionId as string,
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "github__create_entities", arguments: { entities: [] } },
      }),
    });
    await response.arrayBuffer();
    expect(response.status).toBe(403);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toMatch(/scope="[^"]*mcp:write/);
  });

  it("a write-scope user can call the write tool (the refusal above was about scope, not the tool)", async () => {
    const client = await mcp(alice);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(expectedVisible(bundle, platform.mcpServers, ["mcp:read", "mcp:write"]));
    const result = await client.callTool({
      name: "github__create_entities",
      arguments: {
        entities: [{ name: "tollgate-e2e", entityType: "project", observations: ["created through the gateway"] }],
      },
    });
    expect(result.isError).toBeFalsy();
    expect(JSON.stringify(result.content)).toContain("tollgate-e2e");
  });

  it("a delete tool is denied even with the admin scope, and nothing is deleted", async () => {
    const client = await mcp(aliceAdmin);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("github__create_entities"); // admin sees more than read...
    expect(names).not.toContain("github__delete_entities"); // ...but never a destructive tool
    await expect(
      client.callTool({ name: "github__delete_entities", arguments: { entityNames: ["tollgate-e2e"] } }),
    ).rejects.toThrow(/always-blocked/);
    const still = await client.callTool({ name: "github__search_nodes", arguments: { query: "tollgate-e2e" } });
    expect(JSON.stringify(still.content)).toContain("tollgate-e2e");
  });

  it("the tickets REST service's OpenAPI operations are tools: read for readers, write for writers", async () => {
    const reader = await mcp(agentRead);
    const readable = (await reader.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith("tickets__"));
    expect(readable.sort()).toEqual(["tickets__getTicket", "tickets__listTickets"]);
    const listed = await reader.callTool({ name: "tickets__listTickets", arguments: { status: "open" } });
    expect(listed.isError).toBeFalsy();
    const text = (listed.content as { text: string }[])[0]?.text ?? "";
    expect((JSON.parse(text) as { tickets: { status: string }[] }).tickets.map((t) => t.status)).toEqual(["open"]);
    // The service got the gateway's own request: never the caller's token.
    expect(JSON.stringify(platform.ticketsService.received)).not.toContain(agentRead);

    const writer = await mcp(alice);
    const created = await writer.callTool({
      name: "tickets__createTicket",
      arguments: { body: { title: "Created through the gateway" } },
    });
    expect(created.isError).toBeFalsy();
    expect([...platform.ticketsService.tickets.values()].map((t) => t.title)).toContain("Created through the gateway");
  });

  it("a tickets write with a read-scope token is refused by scope; deleteTicket is refused for everyone", async () => {
    const reader = await mcp(agentRead);
    await expect(
      reader.callTool({ name: "tickets__createTicket", arguments: { body: { title: "nope" } } }),
    ).rejects.toThrow(/403[\s\S]*insufficient_scope[\s\S]*mcp:write/);
    const admin = await mcp(aliceAdmin);
    expect((await admin.listTools()).tools.map((t) => t.name)).not.toContain("tickets__deleteTicket");
    await expect(admin.callTool({ name: "tickets__deleteTicket", arguments: { ticketId: "T-1" } })).rejects.toThrow(
      /always-blocked/,
    );
    expect(platform.ticketsService.tickets.has("T-1")).toBe(true);
    expect([...platform.ticketsService.tickets.values()].map((t) => t.title)).not.toContain("nope");
  });

  it("an MCP client with only its client credentials finds the authorization server through the gateway's metadata", async () => {
    const agent = platform.clients.find((c) => c.grantTypes.includes("client_credentials") && !c.agentId);
    const provider = new ClientCredentialsProvider({
      clientId: agent?.clientId ?? "",
      clientSecret: agent?.clientSecret ?? "",
      scope: "mcp:read",
      expectedIssuer: platform.issuer,
    });
    const client = new McpClient({ name: "oauth-discovery", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(platform.mcpUrl), { authProvider: provider }));
    clients.push(client);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(expectedVisible(bundle, platform.mcpServers, ["mcp:read"]));
    expect(claimsOf(provider.tokens()?.access_token ?? "").aud).toBe(platform.audience);
  });

  it("registers each agent's own app with its own key (private_key_jwt), only its own scopes, and says so", () => {
    const agents = Object.fromEntries(platform.clients.filter((c) => c.agentId).map((c) => [c.agentId, c]));
    expect(Object.keys(agents).sort()).toEqual(["coding", "triage"]);
    expect(agents.triage).toMatchObject({ scopes: ["mcp:read"], privateKeyFile: expect.any(String) });
    expect(agents.coding).toMatchObject({ scopes: ["mcp:read", "mcp:write"], privateKeyFile: expect.any(String) });
    for (const agent of Object.values(agents)) expect(agent).not.toHaveProperty("clientSecret");
    const banner = describePlatform(platform);
    expect(banner).toContain(`triage (client ${agents.triage!.clientId}, scopes mcp:read, private_key_jwt)`);
    expect(banner).toContain("npx tollgate dev token --agent coding");
  });

  it("an agent alone gets a token of its own app, and the authorization server refuses a scope beyond its ceiling", async () => {
    const triage = claimsOf(await devToken("--agent", "triage"));
    const triageClient = platform.clients.find((c) => c.agentId === "triage")!.clientId;
    expect(triage).toMatchObject({ cid: triageClient, sub: triageClient, scp: ["mcp:read"] });
    await expect(devToken("--agent", "triage", "--scopes", "mcp:read mcp:write")).rejects.toThrow(
      /did not grant mcp:write|invalid_scope/,
    );
    expect(claimsOf(await devToken("--agent", "coding")).scp).toEqual(["mcp:read", "mcp:write"]);
  });

  it("an agent's MCP SDK client signs with the agent's key and reaches the gateway as that agent", async () => {
    const triage = platform.clients.find((c) => c.agentId === "triage")!;
    const provider = new PrivateKeyJwtProvider({
      clientId: triage.clientId,
      privateKey: JSON.parse(readFileSync(triage.privateKeyFile!, "utf8")) as Record<string, unknown>,
      algorithm: "ES256",
      scope: "mcp:read",
      expectedIssuer: platform.issuer,
    });
    const client = new McpClient({ name: "triage-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(platform.mcpUrl), { authProvider: provider }));
    clients.push(client);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(expectedVisible(bundle, platform.mcpServers, ["mcp:read"]));
    expect(claimsOf(provider.tokens()?.access_token ?? "").cid).toBe(triage.clientId);
  });

  it("a garbage token gets 401 invalid_token; no token gets 401 pointing at the resource metadata", async () => {
    const garbage = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { authorization: "Bearer garbage", "content-type": "application/json" },
      body: "{}",
    });
    await garbage.arrayBuffer();
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const none = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    await none.arrayBuffer();
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("resource_metadata=");
  });

  it("a prompt with an SSN reaches the LLM upstream redacted, with the gateway's key instead of the caller's token", async () => {
    const openai = new OpenAI({ baseURL: `${platform.gatewayUrl}/openai/v1`, apiKey: agentRead, maxRetries: 0 });
    const before = platform.llmUpstream.requests.length;
    const completion = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: `My SSN is ${SSN}, please remember it.` }],
    });
    const reply = completion.choices[0]?.message.content ?? "";
    expect(reply).toContain("remember it");
    expect(reply).not.toContain(SSN);
    const received = platform.llmUpstream.requests.slice(before);
    expect(received).toHaveLength(1);
    expect(received[0]?.rawBody).not.toContain(SSN);
    expect(received[0]?.headers.authorization).toBe("Bearer tollgate-local-llm-key");
    expect(JSON.stringify(received[0]?.headers)).not.toContain(agentRead);
  });

  it("the Anthropic SDK reaches the Anthropic route with the gateway token, and a phone number is masked on the way", async () => {
    const anthropic = new Anthropic({
      baseURL: `${platform.gatewayUrl}/anthropic`,
      authToken: agentRead,
      apiKey: null,
      maxRetries: 0,
    });
    const before = platform.llmUpstream.requests.length;
    const message = await anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages: [{ role: "user", content: "Call me back at 555-123-4567 please" }],
    });
    const text = message.content.map((block) => (block.type === "text" ? block.text : "")).join("");
    expect(text).toContain("please");
    expect(text).not.toContain("555-123-4567");
    const received = platform.llmUpstream.requests.slice(before);
    expect(received.map((r) => r.path)).toEqual(["/v1/messages"]);
    expect(received[0]?.rawBody).not.toContain("555-123-4567");
    expect(JSON.stringify(received[0]?.headers)).not.toContain(agentRead);
    expect(received[0]?.headers["x-api-key"] ?? received[0]?.headers.authorization).toMatch(/tollgate-local-llm-key$/);
  });

  it("when the primary provider fails, the fallback answers", async () => {
    const route = bundle.llm.routes.find((r) => r.id === "anthropic");
    expect(route?.providers.length).toBeGreaterThanOrEqual(2);
    const openai = new OpenAI({
      baseURL: `${platform.gatewayUrl}${route?.pathPrefix}/v1`,
      apiKey: agentRead,
      maxRetries: 0,
    });
    const before = platform.llmUpstream.requests.length;
    const { data, response } = await openai.chat.completions
      .create({ model: "fail-primary", messages: [{ role: "user", content: "hello from failover" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain("hello from failover");
    expect(response.headers.get("x-tollgate-provider")).toBe(route?.providers[1]?.id);
    expect(platform.llmUpstream.requests.slice(before).map((r) => r.vendor)).toEqual([
      "primary",
      route?.providers[1]?.id,
    ]);
  });

  it("the (N+1)th request of a user in one window is rate-limited with Retry-After", async () => {
    const bob = await devToken("--user", "bob", "--scopes", "mcp:read");
    const route = bundle.llm.routes.find((r) => r.id === "openai");
    const limit = bundle.guardPolicies.find((p) => p.id === route?.policy)?.limits?.requestsPerWindow;
    expect(limit).toBeGreaterThan(0);
    const call = () =>
      fetch(`${platform.gatewayUrl}${route?.pathPrefix}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${bob}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });
    const statuses: number[] = [];
    for (let i = 0; i < (limit as number); i++) {
      const response = await call();
      await response.arrayBuffer();
      statuses.push(response.status);
      if (response.status !== 200) break;
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const over = await call();
    await over.arrayBuffer();
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
  }, 120_000);

  it("every step left an audit line, and no line holds a token or the SSN", async () => {
    const expected: [string, (e: Record<string, unknown>) => boolean][] = [
      ["auth deny 401", (e) => e.kind === "auth" && e.decision === "deny" && e.status === 401],
      ["mcp allow", (e) => e.kind === "mcp" && e.decision === "allow"],
      [
        "mcp deny of the write tool",
        (e) => e.kind === "mcp" && e.decision === "deny" && String(e.tool).includes("create_entities"),
      ],
      [
        "mcp block of the delete tool",
        (e) => e.kind === "mcp" && e.decision === "block" && String(e.tool).includes("delete_entities"),
      ],
      [
        "llm redaction",
        (e) =>
          e.kind === "llm" &&
          (e.decision === "redact" || (e.redactions as Record<string, number> | undefined)?.ssn !== undefined),
      ],
      ["llm failover", (e) => e.kind === "llm" && e.decision === "failover"],
      ["bob rate-limited", (e) => e.decision === "rate-limited" && e.principal === "bob"],
    ];
    const missing: string[] = [];
    await Promise.all(expected.map(([name, match]) => platform.waitForAudit(match).catch(() => missing.push(name))));
    expect(missing).toEqual([]);
    for (const line of platform.outputLines()) {
      for (const secret of [agentRead, aliceAdmin, alice, SSN, "tollgate-local-llm-key"])
        expect(line).not.toContain(secret);
    }
  });

  it("stopping leaves no process behind: the gateway, its MCP servers and the stand-ins are gone", async () => {
    const members = groupMembers(platform.gateway.pid);
    expect(members).toContain(platform.gateway.pid);
    expect(members.length).toBeGreaterThanOrEqual(3); // the gateway and the MCP servers of the open sessions
    await platform.stop();
    expect(await survivorsAfter(members)).toEqual([]);
    expect(groupMembers(platform.gateway.pid)).toEqual([]);
    expect(await portRefuses(platform.gatewayUrl)).toBe(true);
    expect(await portRefuses(platform.issuer)).toBe(true);
    expect(await portRefuses(platform.llmUpstream.url)).toBe(true);
    expect(existsSync(platform.statePath)).toBe(false);
    expect(existsSync(platform.workDir)).toBe(false);
    // Everything the gateway wrote, flushed at exit: still no token, key or SSN.
    for (const line of platform.outputLines()) {
      for (const secret of [agentRead, aliceAdmin, alice, SSN, "tollgate-local-llm-key"])
        expect(line).not.toContain(secret);
    }
  });
});
