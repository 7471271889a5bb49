/**
 * Two real gateway processes (`tollgate serve`, as two replicas loading the same bundle) sharing one real
 * redis-server admit at most the per-user budget together.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { authTestBundle } from "../support/gateway.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";
import { withDigest } from "../../policies/bundle/index.js";

const AUDIENCE = "https://gateway.replicas.test";
const BUDGET = 4;

let redis: RedisServer;
let upstream: LlmUpstream;
let as: AuthServer;
let dir: string;
const replicas: { child: ChildProcess; url: string }[] = [];

async function startReplica(
  bundleFile: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [join(process.cwd(), "bin/tollgate.mjs"), "serve", "--bundle", bundleFile, "--port", "0", "--no-watch"],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(err);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`gateway exited ${code}: ${err}`)));
  });
  return { child, url };
}

beforeAll(async () => {
  [redis, upstream] = await Promise.all([startRedisServer(), startLlmUpstream()]);
  as = await startAuthServer({
    audience: AUDIENCE,
    scopes: ["mcp:read"],
    clients: [
      { clientId: "agent", clientSecret: "agent-secret", grants: ["client_credentials"], scopes: ["mcp:read"] },
    ],
  });
  const bundle = {
    ...authTestBundle(as.issuer, AUDIENCE),
    llm: {
      routes: [
        {
          id: "openai",
          pathPrefix: "/openai",
          policy: "default",
          providers: [
            { id: "openai", kind: "openai" as const, baseUrl: `${upstream.url}/v1`, apiKey: { env: "GW_KEY" } },
          ],
        },
      ],
    },
    guardPolicies: [{ id: "default", limits: { windowSeconds: 60, requestsPerWindow: BUDGET } }],
    rateLimitStore: { type: "redis" as const, url: { env: "GW_REDIS_URL" }, onUnavailable: "fail-closed" as const },
  };
  dir = await mkdtemp(join(tmpdir(), "tollgate-replicas-"));
  const bundleFile = join(dir, "bundle.json");
  await writeFile(bundleFile, JSON.stringify(withDigest(bundle)));
  const env = { GW_KEY: "gateway-key", GW_REDIS_URL: redis.url };
  replicas.push(...(await Promise.all([startReplica(bundleFile, env), startReplica(bundleFile, env)])));
}, 60_000);

afterAll(async () => {
  await Promise.all(
    replicas.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  await Promise.all([as?.close(), upstream?.close(), redis?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("rate limits across replicas", () => {
  it("two gateway processes sharing one redis-server admit at most the budget together", async () => {
    const { access_token: token } = await as.clientCredentials({
      clientId: "agent",
      clientSecret: "agent-secret",
      scopes: ["mcp:read"],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const replica = replicas[i % 2];
      const response = await fetch(`${replica?.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: `hi ${i}` }] }),
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(BUDGET);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10 - BUDGET);
    expect(statuses.slice(0, 2)).toEqual([200, 200]); // both replicas served before the shared budget ran out
    expect(upstream.requests).toHaveLength(BUDGET);
  });
});
