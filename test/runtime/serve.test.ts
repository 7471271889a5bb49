/**
 * The gateway process: probes, hot reload from watched files, and graceful shutdown of `tollgate serve`
 * (a real child process, a real MCP client, a real upstream holding a call in flight).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type BundleInput, withDigest } from "../../policies/bundle/index.js";
import { startGateway } from "../../runtime/server/index.js";
import { createMemoryAuditLog } from "../../runtime/observability/audit.js";
import {
  TEST_CLIENTS,
  type TestPlatform,
  authTestBundle,
  freePort,
  initializeRequest,
  mcpHeaders,
  startTestPlatform,
} from "../support/gateway.js";
import { plausibleClaims } from "../support/attacker.js";
import { startTestIssuer } from "../support/test-issuer.js";
import { buildGateway } from "../../scripts/build-runtime.js";

describe("probes", () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform();
  });
  afterAll(async () => platform?.close());

  it("reports alive and ready (config loaded, issuer keys fetched)", async () => {
    expect((await fetch(`${platform.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${platform.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });
  });
});

describe("an unreachable issuer", () => {
  it("is alive but not ready, and refuses tokens with 401 rather than failing with 500", async () => {
    const deadIssuerPort = await freePort();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const issuer = `http://127.0.0.1:${deadIssuerPort}`;
    const gateway = await startGateway({
      source: { kind: "inline", bundle: authTestBundle(issuer, url) },
      port,
      env: {},
      audit: createMemoryAuditLog(),
      log: () => undefined,
    });
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ reason: "issuer keys not fetched" });
      const { SignJWT, generateKeyPair } = await import("jose");
      const { privateKey } = await generateKeyPair("RS256");
      const token = await new SignJWT({ sub: "alice", scp: ["mcp:read"] })
        .setProtectedHeader({ alg: "RS256", kid: "k" })
        .setIssuer(issuer)
        .setAudience(url)
        .setExpirationTime("5m")
        .sign(privateKey);
      const response = await fetch(`${url}/mcp`, {
        method: "POST",
        headers: mcpHeaders(token),
        body: initializeRequest(),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    } finally {
      await gateway.close();
    }
  });
});

describe("an issuer that comes up after the gateway", () => {
  it("turns /readyz ready without any traffic but the probe, and then accepts its tokens", async () => {
    const issuerPort = await freePort();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const bundle = authTestBundle(`http://127.0.0.1:${issuerPort}`, url);
    const gateway = await startGateway({
      source: { kind: "inline", bundle },
      port,
      env: {},
      audit: createMemoryAuditLog(),
      log: () => undefined,
      verifier: { failureBackoffMs: 0 },
    });
    const issuer = await startTestIssuer({ port: issuerPort }).catch(async (error: unknown) => {
      await gateway.close();
      throw error;
    });
    try {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const token = await issuer.sign(plausibleClaims(issuer.issuer, url));
      expect(
        (await fetch(`${url}/mcp`, { method: "POST", headers: mcpHeaders(token), body: initializeRequest() })).status,
      ).toBe(200);
    } finally {
      await gateway.close();
      await issuer.close();
    }
  });
});

describe("a failing issuer", () => {
  it("is not hammered: a burst of requests while it fails causes one metadata fetch, not one per request", async () => {
    let hits = 0;
    const failing = createServer((_req, res) => {
      hits++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => failing.listen(0, "127.0.0.1", r));
    const issuer = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const gateway = await startGateway({
      source: { kind: "inline", bundle: authTestBundle(issuer, url) },
      port,
      env: {},
      audit: createMemoryAuditLog(),
      log: () => undefined,
      verifier: { failureBackoffMs: 60_000 },
    });
    try {
      const afterStart = hits;
      const { SignJWT, generateKeyPair } = await import("jose");
      const { privateKey } = await generateKeyPair("RS256");
      const token = await new SignJWT({ sub: "alice" })
        .setProtectedHeader({ alg: "RS256", kid: "k" })
        .setIssuer(issuer)
        .setAudience(url)
        .setExpirationTime("5m")
        .sign(privateKey);
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${url}/mcp`, { method: "POST", headers: mcpHeaders(token), body: initializeRequest() }).then(
            (r) => r.status,
          ),
        ),
      );
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect(hits - afterStart).toBe(0);
    } finally {
      await gateway.close();
      failing.closeAllConnections();
      await new Promise<void>((r) => failing.close(() => r()));
    }
  });
});

describe("hot reload from the watched bundle file", () => {
  let platform: TestPlatform;
  let bundle: BundleInput;
  beforeAll(async () => {
    platform = await startTestPlatform({
      files: true,
      bundle: (b) => {
        bundle = b;
        return b;
      },
    });
  });
  afterAll(async () => platform?.close());

  const scopesServed = async () =>
    (
      (await (await fetch(`${platform.url}/.well-known/oauth-protected-resource`)).json()) as {
        scopes_supported: string[];
      }
    ).scopes_supported;

  it("keeps serving the running bundle when the new one is invalid, and says why", async () => {
    const token = await platform.token("reader");
    const reloaded = platform.nextReload();
    await writeFile(
      platform.bundleFile!,
      JSON.stringify(withDigest({ ...bundle, auth: { ...bundle.auth, audiences: [] } })),
    );
    const outcome = await reloaded;
    expect(outcome.status).toBe("rejected");
    expect(outcome.status === "rejected" && outcome.issues.map((i) => i.path)).toContain("auth.audiences");
    expect(platform.audit).toContainEqual(
      expect.objectContaining({ kind: "config", decision: "error", reason: expect.stringContaining("auth.audiences") }),
    );
    // Still the old configuration: same metadata, tokens still accepted.
    expect(await scopesServed()).toEqual(["mcp:read", "mcp:write", "mcp:admin"]);
    expect(
      (await fetch(platform.mcpUrl, { method: "POST", headers: mcpHeaders(token), body: initializeRequest() })).status,
    ).toBe(200);
  });

  it("keeps serving when the file is not even JSON", async () => {
    const reloaded = platform.nextReload();
    await writeFile(platform.bundleFile!, "{ half a bundle");
    expect((await reloaded).status).toBe("rejected");
    expect((await fetch(`${platform.url}/readyz`)).status).toBe(200);
  });

  it("switches to a valid new bundle atomically", async () => {
    const reloaded = platform.nextReload();
    await writeFile(
      platform.bundleFile!,
      JSON.stringify(
        withDigest({ ...bundle, protectedResource: { ...bundle.protectedResource, scopesSupported: ["mcp:read"] } }),
      ),
    );
    expect(await reloaded).toMatchObject({ status: "applied" });
    expect(await scopesServed()).toEqual(["mcp:read"]);
    const challenge = (
      await fetch(platform.mcpUrl, { method: "POST", headers: mcpHeaders(), body: initializeRequest() })
    ).headers.get("www-authenticate");
    expect(challenge).toContain('scope="mcp:read"');
  });

  it("treats a reload of unchanged content as a no-op", async () => {
    expect((await platform.gateway.reload()).status).toBe("unchanged");
  });
});

/** A streamable-HTTP MCP upstream whose one tool blocks until the test releases it. */
async function startBlockingUpstream() {
  let signalCalled!: () => void;
  const called = new Promise<void>((r) => (signalCalled = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const server = new McpServer({ name: "blocking", version: "1.0.0" });
    server.registerTool(
      "wait_for_release",
      { description: "Returns when the test says so", inputSchema: {} },
      async () => {
        signalCalled();
        await released;
        return { content: [{ type: "text", text: "released" }] };
      },
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => void transport.close());
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
  const http = createServer((req, res) => void handler(req, res).catch(() => res.writeHead(500).end()));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    called,
    release,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buffer = "";
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = pattern.exec(buffer);
      if (match) {
        child.stderr?.off("data", onData);
        resolvePromise(match[0]);
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`tollgate serve exited (${code}) before printing ${pattern}: ${buffer}`)),
    );
  });
}

describe("tollgate serve: refusing to start", () => {
  it("exits 1 naming the bundle path and the variable when a referenced secret is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-serve-bad-"));
    try {
      const bundleFile = join(dir, "bundle.json");
      const bundle = authTestBundle("http://127.0.0.1:9", "http://127.0.0.1:8");
      bundle.rateLimitStore = { type: "redis", url: { env: "TOLLGATE_TEST_REDIS_URL_UNSET" } };
      await writeFile(bundleFile, JSON.stringify(withDigest(bundle)));
      const env = { ...process.env };
      delete env.TOLLGATE_TEST_REDIS_URL_UNSET;
      const child = spawn(
        process.execPath,
        [resolve("bin/tollgate.mjs"), "serve", "--bundle", bundleFile, "--port", "0"],
        { stdio: ["ignore", "ignore", "pipe"], env },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      expect(code).toBe(1);
      expect(stderr).toContain("rateLimitStore.url");
      expect(stderr).toContain("TOLLGATE_TEST_REDIS_URL_UNSET");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The command line of `tollgate`: the sources through tsx, or the build the image runs (npm run build). */
const TOLLGATE_COMMANDS: readonly { readonly name: string; readonly command: () => Promise<string> }[] = [
  { name: "bin/tollgate.mjs (sources)", command: async () => resolve("bin/tollgate.mjs") },
  {
    name: "the image's build (dist/runtime/tollgate.mjs)",
    command: async () =>
      join(
        await buildGateway({
          entryPoints: { tollgate: "runtime/cli/bin.ts" },
          outdir: "node_modules/.cache/tollgate-test-build",
        }),
        "tollgate.mjs",
      ),
  },
];

describe.each(TOLLGATE_COMMANDS)("tollgate serve: graceful shutdown, $name", ({ command }) => {
  let as: AuthServer;
  let upstream: Awaited<ReturnType<typeof startBlockingUpstream>>;
  let dir: string;
  let child: ChildProcess | undefined;
  let tollgate: string;

  beforeAll(async () => {
    tollgate = await command();
    upstream = await startBlockingUpstream();
    dir = await mkdtemp(join(tmpdir(), "tollgate-serve-"));
  });
  afterEach(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });
  afterAll(async () => {
    await as?.close();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("on SIGTERM finishes the in-flight tool call, then exits 0", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    as = await startAuthServer({ audience: url, scopes: ["mcp:read"], clients: [TEST_CLIENTS.reader] });
    const base = authTestBundle(as.issuer, url);
    const bundle: BundleInput = {
      ...base,
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [{ id: "slow", transport: { type: "streamable-http", url: upstream.url } }],
        grants: [{ scope: "mcp:read", upstream: "slow", tools: ["*"] }],
        deny: [],
        alwaysBlocked: [],
      },
    };
    const bundleFile = join(dir, `bundle-${randomUUID()}.json`);
    await writeFile(bundleFile, JSON.stringify(withDigest(bundle)));

    child = spawn(process.execPath, [tollgate, "serve", "--bundle", bundleFile, "--port", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env },
    });
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
    await waitForLine(child, /listening on/);

    const { access_token } = await as.clientCredentials({
      clientId: TEST_CLIENTS.reader.clientId,
      clientSecret: TEST_CLIENTS.reader.clientSecret,
      scopes: ["mcp:read"],
    });
    const client = new Client({ name: "shutdown-test", version: "0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${access_token}` } },
      }),
    );
    const call = client.callTool({ name: "slow__wait_for_release", arguments: {} });
    await upstream.called;

    const stopping = waitForLine(child, /SIGTERM/);
    child.kill("SIGTERM");
    await stopping;
    // New requests are no longer served while the call is in flight.
    const probe = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => "connection refused",
    );
    expect(probe).not.toBe(200);

    upstream.release();
    const result = await call;
    expect(result.content).toEqual([{ type: "text", text: "released" }]);
    expect(await exited).toBe(0);
    await client.close().catch(() => undefined);
  });
});
