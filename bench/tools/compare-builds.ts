/**
 * A/B of the gateway's CPU per request between two builds, for a change too small to see through the
 * noise of `npm run bench -- llm` (its windows run one proxy after the other, so a burst of another
 * tenant's load falls on one of them). Here both builds run at once on core 1 and take the same load,
 * half each, window after window; the ratio new/base is taken per window, then the median.
 *
 *   node --import tsx bench/tools/compare-builds.ts --save-base   # build the tree as it is now: the base
 *   # ... change the runtime ...
 *   node --import tsx bench/tools/compare-builds.ts [--stream | --tokens]    # build again and compare with the base
 *
 * Not part of `npm run bench` (it needs a base saved beforehand). Both builds get bench/llm.ts's full chain
 * (JWT, FULL_CHAIN_POLICY) and the same upstream: JSON by default, `--stream` streams written in one write,
 * `--tokens` streams written token by token (one SSE event per write, as vendors stream). Both run
 * pinned to core 1 when there is a second core (./support/gateway-process.ts).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Pool } from "undici";
import { startAuthServer } from "../../examples/local-platform/auth-server.js";
import { startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { buildGateway } from "../../scripts/build-runtime.js";
import { authTestBundle } from "../../test/support/gateway.js";
import {
  FULL_CHAIN_POLICY,
  type GatewayProcess,
  pinThisProcess,
  startGatewayProcess,
} from "../support/gateway-process.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BASE_DIR = "node_modules/.cache/tollgate-compare/base";
const NEW_DIR = "node_modules/.cache/tollgate-compare/new";
const WINDOWS = 12;
const PER_WINDOW = 1500;
const AUDIENCE = "https://gateway.bench.test";
const build = (outdir: string) =>
  buildGateway({ entryPoints: { "gateway-child": "bench/support/gateway-child.ts" }, outdir });

if (process.argv.includes("--save-base")) {
  console.log(`base saved: ${join(await build(BASE_DIR), "gateway-child.mjs")}`);
  process.exit(0);
}
if (!existsSync(join(ROOT, BASE_DIR, "gateway-child.mjs")))
  throw new Error("no base build: run with --save-base first");
/** `--tokens`: streams from the upstream that writes each reply token by token (one SSE event per write). */
const tokens = process.argv.includes("--tokens");
const stream = tokens || process.argv.includes("--stream");

pinThisProcess();
const upstream = await startLlmUpstream({ maxRecorded: 0, ...(tokens ? { streamWrites: "per-event" as const } : {}) });
const as = await startAuthServer({
  audience: AUDIENCE,
  scopes: ["mcp:read"],
  clients: [{ clientId: "bench", clientSecret: "bench-secret", grants: ["client_credentials"], scopes: ["mcp:read"] }],
});
const { access_token: token } = await as.clientCredentials({
  clientId: "bench",
  clientSecret: "bench-secret",
  scopes: ["mcp:read"],
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
          { id: "openai", kind: "openai" as const, baseUrl: `${upstream.url}/v1`, apiKey: { env: "BENCH_KEY" } },
        ],
      },
    ],
  },
  guardPolicies: [FULL_CHAIN_POLICY],
};
const body = JSON.stringify({
  model: "gpt-4o-mini",
  stream,
  messages: [
    {
      role: "system",
      content: "You are a helpful assistant for the support team. Answer briefly and cite the ticket number.",
    },
    {
      role: "user",
      content:
        "Draft a short, friendly follow-up asking whether the proposed workaround solved the problem, and offer a call on Thursday.",
    },
  ],
});
const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };

interface Proxy {
  readonly pool: Pool;
  readonly process: GatewayProcess;
}

async function start(file: string): Promise<Proxy> {
  const gateway = await startGatewayProcess(
    { mode: "tollgate", bundle, env: { BENCH_KEY: "bench-provider-key" } },
    file,
  );
  return { pool: new Pool(`http://127.0.0.1:${gateway.port}`, { connections: 16 }), process: gateway };
}

async function load(proxy: Proxy, count: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const response = await proxy.pool.request({
          path: "/openai/v1/chat/completions",
          method: "POST",
          headers,
          body,
        });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
      }
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const base = await start(join(ROOT, BASE_DIR, "gateway-child.mjs"));
const next = await start(join(await build(NEW_DIR), "gateway-child.mjs"));
await Promise.all([load(base, 2000, 8), load(next, 2000, 8)]); // warm-up
const ratios: number[] = [];
const perRequest = { base: [] as number[], next: [] as number[] };
for (let window = 0; window < WINDOWS; window++) {
  const [base0, next0] = [await base.process.cpuMicros(), await next.process.cpuMicros()];
  await Promise.all([load(base, PER_WINDOW, 8), load(next, PER_WINDOW, 8)]);
  const b = ((await base.process.cpuMicros()) - base0) / PER_WINDOW;
  const n = ((await next.process.cpuMicros()) - next0) / PER_WINDOW;
  perRequest.base.push(b);
  perRequest.next.push(n);
  ratios.push(n / b);
}
console.log(
  `${tokens ? "token-by-token streaming" : stream ? "streaming (whole-reply upstream)" : "JSON"} chat completions, ${WINDOWS} windows of ${PER_WINDOW} requests per build, both builds loaded at once on core 1:\n` +
    `  base ${median(perRequest.base).toFixed(0)} µs/request, new ${median(perRequest.next).toFixed(0)} µs/request; ratio new/base ${median(ratios).toFixed(3)} (per window: ${ratios.map((r) => r.toFixed(2)).join(" ")})`,
);
for (const proxy of [base, next]) {
  await proxy.pool.close();
  proxy.process.close();
}
await upstream.close();
await as.close();
setTimeout(() => process.exit(0), 500).unref();
