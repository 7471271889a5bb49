/**
 * A/B of the gateway's CPU per request between two builds, for a change too small to see through the
 * noise of `npm run bench -- llm` (its windows run one proxy after the other, so a burst of another
 * tenant's load falls on one of them). Here both builds run at once on core 1 and take the same load,
 * half each, window after window; the ratio new/base is taken per window, then the median.
 *
 *   node --import tsx bench/tools/compare-builds.ts --save-base   # build the tree as it is now: the base
 *   # ... change the runtime ...
 *   node --import tsx bench/tools/compare-builds.ts [--stream | --tokens]    # build again and compare with the base
 *   node --import tsx bench/tools/compare-builds.ts --agent    # the agent workload (4-64 KB histories, a token per user)
 *
 * A bare undici pass-through (bench/llm.ts's) takes the same load in the same windows, so each build's CPU per
 * request is also printed as a ratio to it: the number the issue-22 targets are stated in.
 * `--new-without-guards` gives the new build the same bundle without the guards (no PII, injection or credential-leak
 * guard; the limits stay): with a base saved from the same tree, what the guards cost of the CPU per request.
 * `--profile <dir>` writes a V8 CPU profile of the new build there when it exits (`--cpu-prof`);
 * `BENCH_NEW_NODE_FLAGS` adds Node options to the new build's process only (an A/B of a V8 or Node setting).
 *
 * Not part of `npm run bench` (it needs a base saved beforehand). Both builds get bench/llm.ts's full chain
 * (JWT, FULL_CHAIN_POLICY) and the same upstream: JSON by default, `--stream` streams written in one write,
 * `--tokens` streams written token by token (one SSE event per write, as vendors stream); `--agent` sends
 * ../workload/agent.ts's JSON requests instead of today's one short conversation, every target the same
 * sequence. All run pinned to core 1 when there is a second core (../support/gateway-process.ts).
 */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { Pool } from "undici";
import type { BundleInput } from "../../policies/bundle/index.js";
import { agentCalls, agentClients, agentHeaders, type Call } from "../support/agent-users.js";
import { startAuthServer } from "../../examples/local-platform/auth-server.js";
import { startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { buildGateway } from "../../scripts/build-runtime.js";
import { authTestBundle } from "../../test/support/gateway.js";
import {
  FULL_CHAIN_POLICY,
  type GatewayProcess,
  NEW_BUILD_NODE_FLAGS,
  PROXY_NODE_FLAGS,
  pinThisProcess,
  startGatewayProcess,
} from "../support/gateway-process.js";
import { createAgentWorkload } from "../workload/agent.js";

const ROOT = resolve(import.meta.dirname, "../..");
// Per work tree: work trees of one checkout may share node_modules.
const BASE_DIR = `node_modules/.cache/tollgate-compare/${basename(ROOT)}/base`;
const NEW_DIR = `node_modules/.cache/tollgate-compare/${basename(ROOT)}/new`;
const WINDOWS = 12;
const agent = process.argv.includes("--agent");
/** Agent requests carry 4-64 KB each: fewer per window. */
const PER_WINDOW = agent ? 500 : 1500;
const AGENT_USERS = 64;
const profileAt = process.argv.indexOf("--profile");
const profileDir = profileAt > 0 ? process.argv[profileAt + 1] : undefined;
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
  clients: [
    { clientId: "bench", clientSecret: "bench-secret", grants: ["client_credentials"], scopes: ["mcp:read"] },
    ...(agent ? agentClients(AGENT_USERS, ["mcp:read"]) : []),
  ],
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
const { pii: _pii, promptInjection: _injection, credentialLeak: _leak, ...unguarded } = FULL_CHAIN_POLICY;
const newWithoutGuards = process.argv.includes("--new-without-guards");
const newBundle = newWithoutGuards ? { ...bundle, guardPolicies: [unguarded] } : bundle;
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
const userHeaders = agent ? await agentHeaders(as, AGENT_USERS, ["mcp:read"]) : [];
const workload = createAgentWorkload({ seed: 1, users: AGENT_USERS, piiFraction: 0.2 });
/** The next `count` calls: the agent workload's next requests, or today's body `count` times. */
const calls = (count: number): Call[] =>
  agent
    ? agentCalls(workload.take(count), userHeaders)
    : Array.from({ length: count }, () => ({ payload: body, headers }));

interface Proxy {
  readonly pool: Pool;
  readonly path: string;
  readonly process: GatewayProcess;
}

async function start(
  file: string,
  flags: readonly string[],
  profile?: string,
  gatewayBundle: BundleInput = bundle,
): Promise<Proxy> {
  const gateway = await startGatewayProcess(
    { mode: "tollgate", bundle: gatewayBundle, env: { BENCH_KEY: "bench-provider-key" } },
    file,
    profile ? [...flags, "--cpu-prof", `--cpu-prof-dir=${profile}`] : flags,
  );
  return {
    pool: new Pool(`http://127.0.0.1:${gateway.port}`, { connections: 16 }),
    path: "/openai/v1/chat/completions",
    process: gateway,
  };
}

async function startPassThrough(): Promise<Proxy> {
  const gateway = await startGatewayProcess({ mode: "passthrough", upstream: upstream.url });
  return {
    pool: new Pool(`http://127.0.0.1:${gateway.port}`, { connections: 16 }),
    path: "/v1/chat/completions",
    process: gateway,
  };
}

async function load(proxy: Proxy, batch: readonly Call[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let call = batch[next++]; call; call = batch[next++]) {
        const response = await proxy.pool.request({
          path: proxy.path,
          method: "POST",
          headers: call.headers,
          body: call.payload,
        });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
      }
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const base = await start(join(ROOT, BASE_DIR, "gateway-child.mjs"), PROXY_NODE_FLAGS);
const next = await start(join(await build(NEW_DIR), "gateway-child.mjs"), NEW_BUILD_NODE_FLAGS, profileDir, newBundle);
const passThrough = await startPassThrough();
const proxies = [base, next, passThrough];
// Long enough for V8 to optimise the hot path: with 1,000-2,000 requests it was still compiling in the windows.
const warmUp = calls(agent ? 6000 : 10000);
await Promise.all(proxies.map((proxy) => load(proxy, warmUp, 8)));
const ratios: number[] = [];
const perRequest = { base: [] as number[], next: [] as number[], passThrough: [] as number[] };
const toPassThrough = { base: [] as number[], next: [] as number[] };
for (let window = 0; window < WINDOWS; window++) {
  const batch = calls(PER_WINDOW);
  const before = await Promise.all(proxies.map((proxy) => proxy.process.cpuMicros()));
  await Promise.all(proxies.map((proxy) => load(proxy, batch, 8)));
  const after = await Promise.all(proxies.map((proxy) => proxy.process.cpuMicros()));
  const [b, n, p] = after.map((micros, i) => (micros - (before[i] ?? 0)) / PER_WINDOW) as [number, number, number];
  perRequest.base.push(b);
  perRequest.next.push(n);
  perRequest.passThrough.push(p);
  ratios.push(n / b);
  toPassThrough.base.push(b / p);
  toPassThrough.next.push(n / p);
}
const kind = tokens ? "token-by-token streaming" : stream ? "streaming (whole-reply upstream)" : "JSON";
console.log(
  `${kind} chat completions${agent ? " (agent workload)" : ""}${newWithoutGuards ? ", the new build without guards" : ""}, ${WINDOWS} windows of ${PER_WINDOW} requests per build and the pass-through, all loaded at once on core 1:\n` +
    `  base ${median(perRequest.base).toFixed(0)} µs/request, new ${median(perRequest.next).toFixed(0)} µs/request, pass-through ${median(perRequest.passThrough).toFixed(0)} µs/request\n` +
    `  ratio new/base ${median(ratios).toFixed(3)} (per window: ${ratios.map((r) => r.toFixed(2)).join(" ")})\n` +
    `  CPU per request against the pass-through: base ${median(toPassThrough.base).toFixed(2)}x, new ${median(toPassThrough.next).toFixed(2)}x`,
);
for (const proxy of proxies) {
  await proxy.pool.close();
  proxy.process.close();
}
await upstream.close();
await as.close();
setTimeout(() => process.exit(0), 500).unref();
