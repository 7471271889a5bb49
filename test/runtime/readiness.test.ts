/**
 * `/readyz` with `server.readiness.requiredUpstreams`: real upstreams stopped and started again, the gateway
 * probing them on its own (no MCP session needed), and the bundle's MCP session settings reaching the gateway.
 */
import { type Server, createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type BundleInput, validateRuntimeBundle, withDigest } from "../../policies/bundle/index.js";
import { GatewayStartError, startGateway } from "../../runtime/server/index.js";
import { createMemoryAuditLog } from "../../runtime/observability/audit.js";
import {
  type TestPlatform,
  authTestBundle,
  freePort,
  initializeRequest,
  mcpHeaders,
  startTestPlatform,
} from "../support/gateway.js";
import { type HttpUpstream, SERVER_MEMORY_ENTRY, closeServer, listen, startHttpUpstream } from "./mcp-fixtures.js";

type McpUpstreams = NonNullable<BundleInput["mcp"]>["upstreams"];

interface ReadyBody {
  readonly status: string;
  readonly reason?: string;
  readonly upstreams?: readonly { id: string; kind: string; state: string; detail?: string }[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((c) => c()));
});

/** A gateway whose bundle has these MCP upstreams and LLM routes, and the readiness setting. */
async function platformWith(
  upstreams: McpUpstreams,
  requiredUpstreams: string[],
  llmRoutes: BundleInput["llm"] = { routes: [] },
): Promise<TestPlatform> {
  const platform = await startTestPlatform({
    bundle: (bundle) => ({
      ...bundle,
      server: { ...bundle.server, readiness: { requiredUpstreams, probeIntervalSeconds: 1 } },
      llm: llmRoutes,
      mcp: { ...bundle.mcp!, upstreams },
    }),
  });
  cleanups.push(() => platform.close());
  return platform;
}

/** Asks `/readyz` until it answers `status`; fails with the last answer once the deadline passes. */
async function readyzUntil(url: string, status: number, deadlineMs = 15_000): Promise<ReadyBody> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const response = await fetch(`${url}/readyz`);
    const body = (await response.json()) as ReadyBody;
    if (response.status === status) return body;
    if (Date.now() > deadline)
      throw new Error(`/readyz still ${response.status} after ${deadlineMs} ms: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An address nothing listens on. */
async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/mcp`;
}

/** A plain HTTP server answering 404 to everything (an LLM provider's base URL that is reachable). */
async function startProvider(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(404).end());
  const url = await listen(server);
  cleanups.push(() => closeServer(server));
  return { url: `${url}/v1`, server };
}

describe("readiness with required upstreams", () => {
  it("goes 503 when a required MCP upstream stops and back to 200 when it returns, without any session", async () => {
    const port = await freePort();
    let upstream: HttpUpstream | undefined = await startHttpUpstream({ port });
    cleanups.push(() => upstream?.close() ?? Promise.resolve());
    const platform = await platformWith(
      [{ id: "web", transport: { type: "streamable-http", url: upstream.url } }],
      ["web"],
    );

    const ready = await readyzUntil(platform.url, 200);
    expect(ready.upstreams).toEqual([{ id: "web", kind: "mcp", state: "up" }]);

    await upstream.close();
    upstream = undefined;
    const down = await readyzUntil(platform.url, 503);
    expect(down.status).toBe("not ready");
    expect(down.reason).toMatch(/^mcp upstream "web" down: connection failed/);
    expect(down.upstreams).toEqual([
      { id: "web", kind: "mcp", state: "down", detail: expect.stringMatching(/connection failed/) },
    ]);
    // The state names the upstream, never where it lives.
    expect(JSON.stringify(down)).not.toContain(String(port));

    upstream = await startHttpUpstream({ port });
    const back = await readyzUntil(platform.url, 200);
    expect(back.upstreams).toEqual([{ id: "web", kind: "mcp", state: "up" }]);
  });

  it("probes without the upstream's credential: the secret header never leaves on a probe", async () => {
    const upstream = await startHttpUpstream();
    cleanups.push(() => upstream.close());
    const platform = await platformWith(
      [
        {
          id: "web",
          transport: { type: "streamable-http", url: upstream.url },
          credentials: {
            mode: "secret-header",
            header: "authorization",
            value: { env: "GITHUB_TOKEN" },
            prefix: "Bearer ",
          },
        },
      ],
      ["web"],
    );
    await readyzUntil(platform.url, 200);
    // No session was opened: every request the upstream saw was a probe.
    expect(upstream.authorizations.length).toBeGreaterThan(0);
    expect(upstream.authorizations.every((header) => header === undefined)).toBe(true);
  });

  it("stays 200 while an upstream that is not required is down", async () => {
    const upstream = await startHttpUpstream();
    cleanups.push(() => upstream.close());
    const platform = await platformWith(
      [
        { id: "web", transport: { type: "streamable-http", url: upstream.url } },
        { id: "gone", transport: { type: "streamable-http", url: await deadUrl() } },
      ],
      ["web"],
    );
    const response = await fetch(`${platform.url}/readyz`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as ReadyBody).upstreams).toEqual([{ id: "web", kind: "mcp", state: "up" }]);
  });

  it("answers 200 with no upstream list when nothing is required, whatever the upstreams do", async () => {
    const platform = await platformWith(
      [{ id: "gone", transport: { type: "streamable-http", url: await deadUrl() } }],
      [],
    );
    const response = await fetch(`${platform.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).not.toHaveProperty("upstreams");
  });

  it("holds an LLM route down only when every one of its providers is failing", async () => {
    const live = await startProvider();
    const dead = `http://127.0.0.1:${await freePort()}/v1`;
    const route = (id: string, baseUrls: string[]) => ({
      id,
      pathPrefix: `/${id}`,
      policy: "default",
      providers: baseUrls.map((baseUrl, i) => ({ id: `p${i}`, kind: "openai" as const, baseUrl })),
    });
    const platform = await platformWith([], ["failover", "broken"], {
      routes: [route("failover", [dead, live.url]), route("broken", [dead, dead])],
    });
    const body = await readyzUntil(platform.url, 503);
    expect(body.upstreams).toEqual([
      { id: "failover", kind: "llm", state: "up" },
      { id: "broken", kind: "llm", state: "down", detail: expect.stringMatching(/^every provider failing \(p0: /) },
    ]);
    expect(body.reason).toBe(`llm upstream "broken" down: ${body.upstreams?.[1]?.detail}`);
  });

  it("holds a stdio upstream down when its command cannot be run", async () => {
    const platform = await platformWith(
      [
        { id: "memory", transport: { type: "stdio", command: "node", args: [SERVER_MEMORY_ENTRY] } },
        { id: "missing", transport: { type: "stdio", command: "/nonexistent/tollgate-test-mcp-server" } },
      ],
      ["memory", "missing"],
    );
    const body = await readyzUntil(platform.url, 503);
    expect(body.upstreams).toEqual([
      { id: "memory", kind: "mcp", state: "up" },
      { id: "missing", kind: "mcp", state: "down", detail: "stdio command not found or not executable" },
    ]);
    expect(JSON.stringify(body)).not.toContain("nonexistent");
  });

  it("refuses a bundle whose requiredUpstreams names no upstream or route, naming the field and the fix", async () => {
    const bundle = authTestBundle("http://127.0.0.1:9", "http://127.0.0.1:8");
    bundle.server = { ...bundle.server, readiness: { requiredUpstreams: ["github"] } };
    const result = validateRuntimeBundle(withDigest(bundle));
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues).toEqual([
      {
        path: "server.readiness.requiredUpstreams[0]",
        message: 'unknown upstream "github": expected an MCP upstream id or an LLM route id, and the bundle has none',
        fix: expect.stringContaining("GatewayBundle({ readiness: { requiredUpstreams } })"),
      },
    ]);
    await expect(
      startGateway({
        source: { kind: "inline", bundle },
        port: 0,
        env: {},
        audit: createMemoryAuditLog(),
        log: () => undefined,
      }),
    ).rejects.toThrow(GatewayStartError);
  });
});

describe("MCP session settings from the bundle", () => {
  it("refuse a session with 503 when maxStdioProcesses is 0 and an upstream runs over stdio", async () => {
    const platform = await startTestPlatform({
      bundle: (bundle) => ({
        ...bundle,
        mcp: {
          ...bundle.mcp!,
          upstreams: [{ id: "memory", transport: { type: "stdio", command: "node", args: [SERVER_MEMORY_ENTRY] } }],
          sessions: { maxStdioProcesses: 0, maxPerPrincipal: 3, idleMinutes: 5 },
        },
      }),
    });
    cleanups.push(() => platform.close());
    expect(platform.gateway.active().mcp.stdioProcesses()).toEqual({ inUse: 0, limit: 0 });

    const response = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: mcpHeaders(await platform.token("reader")),
      body: initializeRequest(),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).not.toBeNull();
    expect(platform.gateway.active().mcp.sessionCount()).toBe(0);
  });
});
