/**
 * Upstream failure, recovery and credentials, through the gateway handler with the real MCP SDK Client.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import type { RateLimiter } from "../../runtime/http/types.js";
import {
  type HttpUpstream,
  SERVER_MEMORY_ENTRY,
  closeServer,
  gatewayBundle,
  listen,
  startHttpUpstream,
  toolListWatcher,
} from "./mcp-fixtures.js";
import { type Harness, admitAll, principal, startHarness } from "./mcp-harness.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  opts: {
    upstreams?: Parameters<typeof gatewayBundle>[0]["upstreams"];
    limiter?: RateLimiter;
    web?: HttpUpstream;
    deps?: Parameters<typeof startHarness>[3];
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const web = opts.web ?? (await startHttpUpstream());
  if (!opts.web) cleanups.push(() => web.close());
  const user = principal("alice", ["mcp:read", "mcp:write"]);
  const harness: Harness = await startHarness(
    gatewayBundle({
      webUrl: web.url,
      memoryFile: join(dir, "memory.jsonl"),
      ...(opts.upstreams ? { upstreams: opts.upstreams } : {}),
    }),
    { alice: user, bob: principal("bob", ["mcp:read"]) },
    opts.limiter ?? admitAll,
    opts.deps,
  );
  cleanups.push(() => harness.close());
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(harness.url), {
    requestInit: { headers: { authorization: "Bearer alice" } },
  });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { web, harness, client, user, transport };
}

const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);

describe("upstream failure", () => {
  it("killing one upstream leaves the other's tools working; its tools come back when it returns", async () => {
    const web = await startHttpUpstream();
    const port = Number(new URL(web.url).port);
    const { client } = await setup({ web });
    expect(await names(client)).toContain("web__get_time");

    await web.close();
    await expect(client.callTool({ name: "web__get_time", arguments: {} })).rejects.toThrow(
      /upstream "web" is unavailable|Unknown tool/,
    );
    const afterKill = await names(client);
    expect(afterKill.some((n) => n.startsWith("web__"))).toBe(false);
    expect(afterKill).toContain("memory__read_graph");
    await expect(client.callTool({ name: "memory__read_graph", arguments: {} })).resolves.toMatchObject({
      content: expect.any(Array),
    });

    const watcher = toolListWatcher(client);
    const back = await startHttpUpstream({ port });
    cleanups.push(() => back.close());
    await watcher.until((listed) => listed.includes("web__get_time"));
    await expect(client.callTool({ name: "web__get_time", arguments: {} })).resolves.toMatchObject({
      content: [{ type: "text" }],
    });
  });

  it("a stdio upstream whose process dies is degraded and respawned; the other upstream keeps serving", async () => {
    const { client } = await setup();
    expect(await names(client)).toContain("memory__read_graph");
    const children = execFileSync("pgrep", ["-P", String(process.pid), "-f", "server-memory"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
    expect(children.length).toBeGreaterThan(0);
    const watcher = toolListWatcher(client);
    for (const pid of children) process.kill(pid, "SIGKILL");
    // Announced (list_changed) as gone...
    await watcher.until((listed) => !listed.includes("memory__read_graph"));
    await expect(client.callTool({ name: "web__get_time", arguments: {} })).resolves.toMatchObject({
      content: [{ type: "text" }],
    });
    // ...then respawned with backoff and announced again.
    await watcher.until((listed) => listed.includes("memory__read_graph"));
    await expect(client.callTool({ name: "memory__read_graph", arguments: {} })).resolves.toMatchObject({
      content: expect.any(Array),
    });
  });

  it("an upstream that cannot start is degraded and the others serve", async () => {
    const { client } = await setup({
      upstreams: [
        {
          id: "memory",
          transport: {
            type: "stdio",
            command: "node",
            args: [SERVER_MEMORY_ENTRY],
            env: { MEMORY_FILE_PATH: join(tmpdir(), `tg-${process.pid}-m.jsonl`) },
          },
        },
        { id: "web", transport: { type: "streamable-http", url: "http://127.0.0.1:9/mcp" } },
      ],
    });
    // The silent upstream's connect timeout (60 s) is longer than this test's: memory's tools must show up
    // (at once, or announced by list_changed once its child is up) while web is still connecting.
    const listed = await toolListWatcher(client).until((l) => l.includes("memory__read_graph"));
    expect(listed.some((n) => n.startsWith("web__"))).toBe(false);
  });
});

describe("cancellation and limits", () => {
  it("a cancelled call is cancelled upstream too", async () => {
    const { client, web } = await setup();
    const cancelledUpstream = web.nextCancellation();
    const controller = new AbortController();
    const pending = client.callTool({ name: "web__count_slowly", arguments: { n: 50 } }, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        if (p.progress === 2) controller.abort("user gave up");
      },
    });
    await expect(pending).rejects.toThrow(/gave up|abort/i);
    expect(await cancelledUpstream).toBeLessThan(50);
    // The session still serves after a cancellation.
    await expect(client.callTool({ name: "web__get_time", arguments: {} })).resolves.toMatchObject({
      content: [{ type: "text" }],
    });
  });

  it("a caller over its request budget gets 429 with Retry-After, and the call does not run", async () => {
    let admitted = 0;
    const limiter: RateLimiter = {
      ...admitAll,
      admitRequest: async () =>
        admitted++ < 1
          ? { allowed: true, headers: {} }
          : { allowed: false, retryAfterSeconds: 7, reason: "requests per window", headers: {} },
    };
    const { client, harness, transport } = await setup({ limiter });
    await client.callTool({ name: "web__set_value", arguments: { value: "one" } });
    const response = await fetch(harness.url, {
      method: "POST",
      headers: {
        authorization: "Bearer alice",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": transport.sessionId ?? "",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "web__set_value", arguments: { value: "two" } },
      }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(await response.json()).toMatchObject({ id: 9, error: { message: "rate limited: requests per window" } });
    expect(harness.events).toContainEqual(expect.objectContaining({ decision: "rate-limited", status: 429 }));
    expect(harness.events.filter((e) => e.decision === "allow" && e.tool === "web__set_value")).toHaveLength(1);
  });
});

describe("upstream credentials", () => {
  it("a secret-header upstream receives the secret, never the caller's token", async () => {
    process.env.TG_TEST_WEB_KEY = "upstream-key-123";
    cleanups.push(() => void delete process.env.TG_TEST_WEB_KEY);
    const web = await startHttpUpstream();
    cleanups.push(() => web.close());
    const { client, user } = await setup({
      web,
      upstreams: [
        {
          id: "memory",
          transport: {
            type: "stdio",
            command: "node",
            args: [SERVER_MEMORY_ENTRY],
            env: { MEMORY_FILE_PATH: join(tmpdir(), `tg-${process.pid}-s.jsonl`) },
          },
        },
        {
          id: "web",
          transport: { type: "streamable-http", url: web.url },
          credentials: {
            mode: "secret-header",
            header: "Authorization",
            prefix: "Bearer ",
            value: { env: "TG_TEST_WEB_KEY" },
          },
        },
      ],
    });
    const result = await client.callTool({ name: "web__whoami", arguments: {} });
    expect(result.content).toEqual([{ type: "text", text: "upstream-key-123" }]);
    expect(web.authorizations.every((a) => a === "Bearer upstream-key-123")).toBe(true);
    expect(web.authorizations.some((a) => a?.includes(user.token))).toBe(false);
  });

  it("a stdio upstream gets secret environment values read through the config's secret reader", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-secret-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const memoryFile = join(dir, "from-secret.jsonl");
    process.env.TG_TEST_MEMORY_FILE = memoryFile;
    cleanups.push(() => void delete process.env.TG_TEST_MEMORY_FILE);
    const { client } = await setup({
      upstreams: [
        {
          id: "memory",
          transport: {
            type: "stdio",
            command: "node",
            args: [SERVER_MEMORY_ENTRY],
            env: { MEMORY_FILE_PATH: { env: "TG_TEST_MEMORY_FILE" } },
          },
        },
        { id: "web", transport: { type: "streamable-http", url: "http://127.0.0.1:9/mcp" } },
      ],
    });
    await client.callTool({
      name: "memory__create_entities",
      arguments: { entities: [{ name: "Secretly", entityType: "t", observations: [] }] },
    });
    expect(readFileSync(memoryFile, "utf8")).toContain("Secretly");
  });
});

describe("session limits", () => {
  it("opening more sessions than the per-principal cap closes that principal's least recently used one", async () => {
    const { harness, transport: first } = await setup({ deps: { maxSessionsPerPrincipal: 2 } });
    const open = async (bearer: string) => {
      const client = new Client({ name: "extra", version: "1.0.0" });
      const t = new StreamableHTTPClientTransport(new URL(harness.url), {
        requestInit: { headers: { authorization: `Bearer ${bearer}` } },
      });
      await client.connect(t);
      cleanups.push(() => client.close());
      return { client, transport: t };
    };
    const bob = await open("bob");
    await open("alice");
    await open("alice");
    const stale = await fetch(harness.url, {
      method: "POST",
      headers: {
        authorization: "Bearer alice",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": first.sessionId ?? "",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    expect(stale.status).toBe(404);
    expect(harness.gateway.sessionCount()).toBe(3);
    expect((await bob.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it("an upstream that accepts connections but never answers does not hold back the others' tools", async () => {
    const silent = createServer(() => {});
    const silentUrl = await listen(silent);
    cleanups.push(() => closeServer(silent));
    const dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { client } = await setup({
      deps: { upstreamStartWaitMs: 300 },
      upstreams: [
        {
          id: "memory",
          transport: {
            type: "stdio",
            command: "node",
            args: [SERVER_MEMORY_ENTRY],
            env: { MEMORY_FILE_PATH: join(dir, "m.jsonl") },
          },
        },
        { id: "web", transport: { type: "streamable-http", url: `${silentUrl}/mcp` } },
      ],
    });
    // The silent upstream's connect timeout (60 s) is longer than this test's: memory's tools must show up
    // (at once, or announced by list_changed once its child is up) while web is still connecting.
    const listed = await toolListWatcher(client).until((l) => l.includes("memory__read_graph"));
    expect(listed.some((n) => n.startsWith("web__"))).toBe(false);
  });
});
