/**
 * Production shape, small: two real gateway processes (`tollgate serve`, one bundle file) sharing one real
 * redis-server, behind a real HAProxy doing round robin. One MCP session of the official SDK client is served
 * by both replicas, keeps working across a bundle reload (with the new policy), and continues on the
 * surviving replica when the other one is killed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type BundleInput, withDigest } from "../../policies/bundle/index.js";
import { type HttpUpstream, startHttpUpstream } from "../runtime/mcp-fixtures.js";
import { authTestBundle, freePort } from "../support/gateway.js";
import { type LoadBalancer, startLoadBalancer } from "../support/haproxy.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";

interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves when this replica's audit log (stdout) records a reload to `digest`. */
  reloadedTo(digest: string): Promise<void>;
}

let redis: RedisServer;
let web: HttpUpstream;
let as: AuthServer;
let lb: LoadBalancer;
let dir: string;
let bundleFile: string;
let bundle: BundleInput;
const replicas: Replica[] = [];

function bundleWith(grants: NonNullable<BundleInput["mcp"]>["grants"]): BundleInput {
  return { ...bundle, mcp: { ...bundle.mcp!, grants } };
}

async function startReplica(name: string, port: number, env: Record<string, string>): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [
      join(process.cwd(), "bin/tollgate.mjs"),
      "serve",
      "--bundle",
      bundleFile,
      "--port",
      String(port),
      "--metrics-port",
      "0",
    ],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let audit = "";
  const auditWaiters: (() => void)[] = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    audit += chunk.toString();
    for (const waiter of auditWaiters.splice(0)) waiter();
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(err);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`gateway ${name} exited ${code}: ${err}`)));
  });
  return {
    name,
    child,
    url,
    reloadedTo: (digest) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (audit.includes(`(${digest})`) && audit.includes("reloaded")) resolve();
          else auditWaiters.push(check);
        };
        check();
      }),
  };
}

beforeAll(async () => {
  const lbPort = await freePort();
  const publicUrl = `http://127.0.0.1:${lbPort}`;
  [redis, web] = await Promise.all([startRedisServer(), startHttpUpstream()]);
  as = await startAuthServer({
    audience: publicUrl,
    scopes: ["mcp:read"],
    clients: [
      { clientId: "agent", clientSecret: "agent-secret", grants: ["client_credentials"], scopes: ["mcp:read"] },
    ],
  });
  const base = authTestBundle(as.issuer, publicUrl);
  bundle = {
    ...base,
    mcp: {
      ...base.mcp!,
      upstreams: [{ id: "web", transport: { type: "streamable-http", url: web.url } }],
      grants: [{ scope: "mcp:read", upstream: "web", tools: ["get_*"] }],
    },
    rateLimitStore: { type: "redis", url: { env: "GW_REDIS_URL" }, onUnavailable: "fail-closed" },
  };
  dir = await mkdtemp(join(tmpdir(), "tollgate-scale-"));
  bundleFile = join(dir, "bundle.json");
  await writeFile(bundleFile, JSON.stringify(withDigest(bundle)));
  const env = { GW_REDIS_URL: redis.url };
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  replicas.push(...(await Promise.all([startReplica("r1", p1, env), startReplica("r2", p2, env)])));
  lb = await startLoadBalancer({ r1: `127.0.0.1:${p1}`, r2: `127.0.0.1:${p2}` }, lbPort);
}, 60_000);

afterAll(async () => {
  await Promise.all(
    replicas.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  await Promise.all([lb?.stop(), as?.close(), web?.close(), redis?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("an MCP session behind a load balancer, two replicas, one Redis", () => {
  it("is served by both replicas, survives a bundle reload with the new policy, and continues when a replica is killed", async () => {
    const { access_token: token } = await as.clientCredentials({
      clientId: "agent",
      clientSecret: "agent-secret",
      scopes: ["mcp:read"],
    });
    const servedBy: string[] = [];
    const statuses: number[] = [];
    const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        if (init?.method === "POST") {
          servedBy.push(response.headers.get("x-served-by") ?? "?");
          statuses.push(response.status);
        }
        return response;
      },
    });
    const client = new Client({ name: "scale-agent", version: "0" });
    await client.connect(transport);
    const sessionId = transport.sessionId;
    expect(sessionId).toBeTypeOf("string");
    const callTime = async () => {
      const result = (await client.callTool({ name: "web__get_time", arguments: {} })) as CallToolResult;
      expect(result.isError ?? false).toBe(false);
      expect(result.content).toEqual([{ type: "text", text: new Date(0).toISOString() }]);
    };

    try {
      // Round robin: consecutive requests of the one session land on both replicas.
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["web__get_time"]);
      for (let i = 0; i < 4; i++) await callTime();
      expect(new Set(servedBy)).toEqual(new Set(["r1", "r2"]));

      // A reload on every replica: the session stays, and the new grant is what decides.
      const next = withDigest(
        bundleWith([
          { scope: "mcp:read", upstream: "web", tools: ["get_*"] },
          { scope: "mcp:read", upstream: "web", tools: ["set_*"] },
        ]),
      );
      const reloaded = Promise.all(replicas.map((r) => r.reloadedTo(next.metadata.digest!)));
      await writeFile(bundleFile, JSON.stringify(next));
      await reloaded;
      for (let i = 0; i < 2; i++) {
        expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["web__get_time", "web__set_value"]);
      }
      const stored = (await client.callTool({ name: "web__set_value", arguments: { value: "x" } })) as CallToolResult;
      expect(stored.content).toEqual([{ type: "text", text: "stored x" }]);
      expect(transport.sessionId).toBe(sessionId);

      // One replica dies: the next requests of the same session are all served by the other one.
      const killed = replicas[0]!;
      await new Promise<void>((resolve) => {
        killed.child.once("exit", () => resolve());
        killed.child.kill("SIGKILL");
      });
      servedBy.length = 0;
      for (let i = 0; i < 4; i++) await callTime();
      expect(new Set(servedBy)).toEqual(new Set(["r2"]));
      expect(transport.sessionId).toBe(sessionId);
      expect(statuses.every((s) => s < 300)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
