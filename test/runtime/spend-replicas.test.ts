/**
 * Two real gateway processes (`tollgate serve`, two replicas of one bundle) sharing one real redis-server
 * share a spend budget: the answer one replica billed stops the caller on the other. Counts are integer
 * micro-dollars in Redis; with Redis gone, `onUnavailable: fail-closed` refuses.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { withDigest } from "../../policies/bundle/index.js";
import { authTestBundle } from "../support/gateway.js";
import { type RedisServer, startRedisServer } from "../support/llm-redis-server.js";

const AUDIENCE = "https://gateway.spend-replicas.test";
const CAP_USD = 0.001;

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
    [
      join(process.cwd(), "bin/tollgate.mjs"),
      "serve",
      "--bundle",
      bundleFile,
      "--port",
      "0",
      "--no-watch",
      "--metrics-port",
      "off",
    ],
    { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] },
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
    guardPolicies: [{ id: "default" }],
    rateLimitStore: { type: "redis" as const, url: { env: "GW_REDIS_URL" }, onUnavailable: "fail-closed" as const },
    spend: {
      prices: { "gpt-4o-mini": { input: 100, output: 1000 } },
      budgets: [{ id: "user-daily", per: "user" as const, window: "day" as const, maxUsd: CAP_USD }],
    },
  };
  dir = await mkdtemp(join(tmpdir(), "tollgate-spend-replicas-"));
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

describe("spend budgets across replicas", () => {
  it("what one replica billed stops the caller on the other; the count is integer micro-dollars in Redis", async () => {
    const { access_token: token } = await as.clientCredentials({
      clientId: "agent",
      clientSecret: "agent-secret",
      scopes: ["mcp:read"],
    });
    const client = (i: number) =>
      new OpenAI({ baseURL: `${replicas[i]?.url}/openai/v1`, apiKey: token, maxRetries: 0 });
    const ask = (i: number) =>
      client(i)
        .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "How much is left?" }] })
        .then(
          () => 200,
          (error: unknown) => (error instanceof OpenAI.APIError ? `${error.status} ${error.code}` : String(error)),
        );

    expect(await ask(0)).toBe(200); // crosses the cap, completes, is billed in Redis
    expect(await ask(1)).toBe("429 spend_budget_exceeded");
    expect(await ask(0)).toBe("429 spend_budget_exceeded");
    expect(upstream.requests).toHaveLength(1);

    const inspect = new Redis(redis.url);
    try {
      const keys = await inspect.keys("tollgate:rl:spend:user-daily:*");
      expect(keys).toHaveLength(1);
      const micro = await inspect.get(keys[0] as string);
      expect(micro).toMatch(/^\d+$/);
      expect(Number(micro)).toBeGreaterThan(CAP_USD * 1_000_000);
      const ttl = await inspect.pttl(keys[0] as string);
      expect(ttl).toBeGreaterThan(0); // expires after its window
      expect(ttl).toBeLessThanOrEqual(86_400_000 + 60_000);
    } finally {
      inspect.disconnect();
    }

    await redis.stop();
    expect(await ask(1)).toBe("503 spend_store_unavailable"); // fail-closed: no store, no spend
  });
});
