/**
 * MCP sessions that do not belong to one process: a gateway that did not open a session resumes it from the
 * shared record (a real redis-server) for the principal that opened it and for nobody else; a reload keeps
 * sessions; the session store going down and the per-replica stdio process bound give clear answers.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bundle, withDigest } from "../../policies/bundle/index.js";
import { type SessionRecords, redisSessionRecords } from "../../runtime/mcp/session-records.js";
import { type TestPlatform, initializeRequest, mcpHeaders, startTestPlatform } from "../support/gateway.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";
import { type HttpUpstream, gatewayBundle, startHttpUpstream } from "./mcp-fixtures.js";
import { type Harness, principal, startHarness } from "./mcp-harness.js";

/** The fixture bundle with one of its two upstreams ("memory" over stdio, "web" over HTTP) and its grants. */
function onlyUpstream(id: "memory" | "web", webUrl: string, memoryFile: string): Bundle {
  const bundle = gatewayBundle({ webUrl, memoryFile });
  const mcp = bundle.mcp!;
  return {
    ...bundle,
    mcp: {
      ...mcp,
      upstreams: mcp.upstreams.filter((u) => u.id === id),
      grants: mcp.grants.filter((g) => g.upstream === id),
    },
  };
}

const principals = { alice: principal("alice", ["mcp:read"]), bob: principal("bob", ["mcp:read"]) };

function clientOf(url: string, who: string, sessionId?: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${who}` } },
    ...(sessionId ? { sessionId } : {}),
  });
  return { client: new Client({ name: `${who}-agent`, version: "0" }), transport };
}

async function post(url: string, who: string, sessionId: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { ...mcpHeaders(who), "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" },
    body: JSON.stringify(body),
  });
}

describe("sessions shared through Redis by two gateways", () => {
  let redis: RedisServer;
  let web: HttpUpstream;
  let one: Harness;
  let two: Harness;
  const stores: SessionRecords[] = [];

  beforeAll(async () => {
    [redis, web] = await Promise.all([startRedisServer(), startHttpUpstream()]);
    const bundle = onlyUpstream("web", web.url, "/dev/null");
    const store = () => {
      const records = redisSessionRecords(redis.url, "test:mcp-session:", 60_000);
      stores.push(records);
      return records;
    };
    [one, two] = await Promise.all([
      startHarness(bundle, principals, undefined, { sessionRecords: store() }),
      startHarness(bundle, principals, undefined, { sessionRecords: store() }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all([web?.close(), redis?.stop()]);
  });

  it("another gateway serves the session to its owner, and refuses it to another user with 404 as if unknown", async () => {
    const opened = clientOf(one.url, "alice");
    await opened.client.connect(opened.transport);
    const id = opened.transport.sessionId!;

    // Bob holds Alice's session id: the other gateway answers exactly what an unknown id gets, and audits it.
    const stolen = await post(two.url, "bob", id, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(stolen.status).toBe(404);
    expect(await stolen.json()).toMatchObject({ error: { code: -32001, message: "Session not found" } });
    expect(two.events).toContainEqual(
      expect.objectContaining({ decision: "deny", rule: "session: bound to another principal", principal: "bob" }),
    );
    expect(two.gateway.sessionCount()).toBe(0);

    const resumed = clientOf(two.url, "alice", id);
    await resumed.client.connect(resumed.transport);
    expect((await resumed.client.listTools()).tools.map((t) => t.name)).toContain("web__get_time");
    expect(await resumed.client.callTool({ name: "web__get_time", arguments: {} })).toMatchObject({
      content: [{ type: "text", text: new Date(0).toISOString() }],
    });
    expect(two.gateway.sessionCount()).toBe(1);

    // Ending the session (DELETE) on one gateway ends it everywhere, also on the gateway that opened and holds it.
    await resumed.transport.terminateSession();
    const after = await post(one.url, "alice", id, { jsonrpc: "2.0", id: 2, method: "tools/list" });
    expect(after.status).toBe(404);
    expect(one.gateway.sessionCount()).toBe(0); // the gateway that opened it let it go on learning it ended
    await opened.client.close().catch(() => undefined);
  });

  it("with Redis down: a session held elsewhere gets 503 with Retry-After; a new session still works on its gateway", async () => {
    const opened = clientOf(one.url, "alice");
    await opened.client.connect(opened.transport);
    const id = opened.transport.sessionId!;
    await redis.stop();

    const response = await post(two.url, "alice", id, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toMatchObject({ error: { message: "MCP session store unavailable: retry shortly" } });

    // The gateway that holds a session keeps serving it.
    expect((await opened.client.listTools()).tools.length).toBeGreaterThan(0);
    // A new session opens, served by its own gateway only; the store failure is audited.
    const fresh = clientOf(one.url, "bob");
    await fresh.client.connect(fresh.transport);
    expect((await fresh.client.listTools()).tools.length).toBeGreaterThan(0);
    expect(one.events).toContainEqual(expect.objectContaining({ kind: "config", rule: "mcp: session store" }));
    await Promise.all([opened.client.close(), fresh.client.close()]);
  });
});

describe("stdio upstream processes per gateway", () => {
  let harness: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-stdio-bound-"));
    const bundle = onlyUpstream("memory", "http://127.0.0.1:1/mcp", join(dir, "memory.json"));
    harness = await startHarness(bundle, principals, undefined, { maxStdioProcesses: 1 });
  });
  afterAll(async () => {
    await harness?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a session past the bound gets 503 with Retry-After naming the limit; one ending frees its process", async () => {
    const first = clientOf(harness.url, "alice");
    await first.client.connect(first.transport);
    expect(harness.gateway.stdioProcesses()).toEqual({ inUse: 1, limit: 1 });

    const refused = await fetch(harness.url, { method: "POST", headers: mcpHeaders("bob"), body: initializeRequest() });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.json()).toMatchObject({
      error: { message: "this gateway replica runs its maximum of stdio upstream processes: retry shortly" },
    });

    await first.transport.terminateSession();
    await first.client.close();
    expect(harness.gateway.stdioProcesses().inUse).toBe(0);
    const second = clientOf(harness.url, "bob");
    await second.client.connect(second.transport);
    expect(harness.gateway.stdioProcesses().inUse).toBe(1);
    await second.client.close();
  });
});

describe("a bundle reload", () => {
  let platform: TestPlatform;
  let web: HttpUpstream;
  beforeAll(async () => {
    web = await startHttpUpstream();
    platform = await startTestPlatform({
      files: true,
      bundle: (b) => ({
        ...b,
        mcp: {
          ...b.mcp!,
          upstreams: [{ id: "web", transport: { type: "streamable-http", url: web.url } }],
          grants: [{ scope: "mcp:read", upstream: "web", tools: ["get_*"] }],
        },
      }),
    });
  });
  afterAll(async () => {
    await platform?.close();
    await web?.close();
  });

  it("keeps the session (no Redis) and the next request is decided by the new bundle", async () => {
    const token = await platform.token("reader");
    const transport = new StreamableHTTPClientTransport(new URL(platform.mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: "reload-agent", version: "0" });
    await client.connect(transport);
    const id = transport.sessionId;
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["web__get_time"]);
    const metrics = await platform.gateway.telemetry.metrics.render();
    expect(metrics).toMatch(/^tollgate_mcp_sessions 1$/m);
    expect(metrics).toMatch(/^tollgate_mcp_stdio_processes_limit 256$/m);

    const { readFile } = await import("node:fs/promises");
    const current = JSON.parse(await readFile(platform.bundleFile!, "utf8"));
    delete current.metadata.digest;
    current.mcp.grants.push({ scope: "mcp:read", upstream: "web", tools: ["set_*"] });
    const reloaded = platform.nextReload();
    await writeFile(platform.bundleFile!, JSON.stringify(withDigest(current)));
    expect((await reloaded).status).toBe("applied");

    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["web__get_time", "web__set_value"]);
    expect(transport.sessionId).toBe(id);
    // The session gauge reads the runtime now serving: the session is held by it.
    expect(await platform.gateway.telemetry.metrics.render()).toMatch(/^tollgate_mcp_sessions 1$/m);
    await client.close();
  });
});
