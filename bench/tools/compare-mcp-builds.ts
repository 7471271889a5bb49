/**
 * A/B of two builds of the gateway on MCP `tools/call` (bench/mcp.ts's agent workload: `get_records`, 2-8 KB
 * results), for a change too small to see through the noise of `npm run bench -- mcp`, whose targets run one
 * after the other. Here both builds run at once on core 1, with the same bundle, and take turns call by call:
 * direct, base, new, direct, base, new... one call at a time, so a burst of another tenant's load falls on all
 * three alike. Per window (12): each target's p50, the builds' CPU per call; then the medians of the per-window
 * added p50 (against direct) and of the new/base ratio of CPU per call.
 *
 *   node --import tsx bench/tools/compare-builds.ts --save-base    # build the tree as it is now: the base
 *   # ... change the runtime ...
 *   node --import tsx bench/tools/compare-mcp-builds.ts [--no-guards]    # build again and compare with the base
 *
 * `BENCH_NEW_NODE_FLAGS` adds Node options to the new build's process only (an A/B of a V8 or Node setting).
 * `--no-guards` runs both builds without guards (bench/mcp.ts's second gateway); by default they run the sample
 * guard policy. `--profile <dir>` writes a V8 CPU profile of the new build there when it exits (`--cpu-prof`).
 */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer } from "../../examples/local-platform/auth-server.js";
import { buildGateway } from "../../scripts/build-runtime.js";
import { TEST_SECRET_ENV, authTestBundle } from "../../test/support/gateway.js";
import { agentClients, agentTokens } from "../support/agent-users.js";
import {
  type GatewayProcess,
  NEW_BUILD_NODE_FLAGS,
  pinThisProcess,
  startGatewayProcess,
} from "../support/gateway-process.js";
import { startMcpUpstreams } from "../support/mcp-upstreams.js";
import { createToolCallWorkload } from "../workload/agent.js";

const ROOT = resolve(import.meta.dirname, "../..");
// The same directories as compare-builds.ts: `--save-base` there saves the base of both.
const BASE_DIR = `node_modules/.cache/tollgate-compare/${basename(ROOT)}/base`;
const NEW_DIR = `node_modules/.cache/tollgate-compare/${basename(ROOT)}/new`;
const WINDOWS = 12;
const CALLS_PER_WINDOW = 150;
const USERS = 8;
const SESSIONS_PER_USER = 2;
const AUDIENCE = "https://gateway.bench.test";
const guards = !process.argv.includes("--no-guards");
const profileAt = process.argv.indexOf("--profile");
const profileDir = profileAt > 0 ? process.argv[profileAt + 1] : undefined;

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};

if (!existsSync(join(ROOT, BASE_DIR, "gateway-child.mjs")))
  throw new Error("no base build: run bench/tools/compare-builds.ts --save-base first");

async function connect(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: "bench", version: "1.0.0" });
  const fetchQuietly: typeof fetch = (input, init) =>
    fetch(input, init?.signal ? { ...init, signal: AbortSignal.any([init.signal]) } : init);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      fetch: fetchQuietly,
      ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
    }),
  );
  return client;
}

pinThisProcess();
const newDir = await buildGateway({
  entryPoints: { "gateway-child": "bench/support/gateway-child.ts" },
  outdir: NEW_DIR,
});
const upstreams = await startMcpUpstreams({ piiFraction: 0.2 });
const as = await startAuthServer({
  audience: AUDIENCE,
  scopes: ["mcp:read"],
  clients: agentClients(USERS, ["mcp:read"]),
});
const base = authTestBundle(as.issuer, AUDIENCE);
const bundle = {
  ...base,
  guardPolicies: guards
    ? base.guardPolicies.map(({ limits: _limits, ...policy }) => policy)
    : [{ id: "default" as const }],
  mcp: {
    path: "/mcp",
    policy: "default",
    upstreams: [{ id: "records", transport: { type: "streamable-http" as const, url: upstreams.records } }],
    grants: [{ scope: "mcp:read", upstream: "records", tools: ["get_*"] }],
    deny: [],
    alwaysBlocked: [],
  },
};
const config = { mode: "tollgate" as const, bundle, env: TEST_SECRET_ENV };
const baseProcess = await startGatewayProcess(config, join(ROOT, BASE_DIR, "gateway-child.mjs"));
const newProcess = await startGatewayProcess(
  config,
  join(newDir, "gateway-child.mjs"),
  profileDir ? [...NEW_BUILD_NODE_FLAGS, "--cpu-prof", `--cpu-prof-dir=${profileDir}`] : NEW_BUILD_NODE_FLAGS,
);
const tokens = await agentTokens(as, USERS, ["mcp:read"]);
const sessionsOf = async (url: string, withTokens: boolean) => {
  const sessions: Client[] = [];
  for (const token of tokens)
    for (let s = 0; s < SESSIONS_PER_USER; s++) sessions.push(await connect(url, withTokens ? token : undefined));
  return sessions;
};
const mcpUrl = (p: GatewayProcess) => `http://127.0.0.1:${p.port}/mcp`;
const targets = [
  { name: "direct", tool: "get_records", sessions: await sessionsOf(upstreams.records, false), process: undefined },
  {
    name: "base",
    tool: "records__get_records",
    sessions: await sessionsOf(mcpUrl(baseProcess), true),
    process: baseProcess,
  },
  {
    name: "new",
    tool: "records__get_records",
    sessions: await sessionsOf(mcpUrl(newProcess), true),
    process: newProcess,
  },
];
const next = createToolCallWorkload({ seed: 1, users: USERS, sessionsPerUser: SESSIONS_PER_USER });

async function call(session: Client, tool: string, args: Record<string, unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await session.callTool({ name: tool, arguments: args });
  if (result.isError) throw new Error(`${tool}: ${JSON.stringify(result.content).slice(0, 300)}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// Warm-up: JIT, pools, every session and token once.
for (let i = 0; i < 300; i++) {
  const c = next();
  for (const t of targets)
    await call(t.sessions[c.user * SESSIONS_PER_USER + c.session] as Client, t.tool, c.arguments);
}
const added = { base: [] as number[], new: [] as number[] };
const cpu = { base: [] as number[], new: [] as number[] };
const cpuRatio: number[] = [];
const p50Diff: number[] = [];
for (let w = 0; w < WINDOWS; w++) {
  const samples = targets.map(() => [] as number[]);
  const before = await Promise.all(targets.map((t) => t.process?.cpuMicros()));
  for (let i = 0; i < CALLS_PER_WINDOW; i++) {
    const c = next();
    // Who goes first rotates, so no target always follows another's call.
    for (let k = 0; k < targets.length; k++) {
      const j = (i + k) % targets.length;
      const t = targets[j]!;
      samples[j]!.push(await call(t.sessions[c.user * SESSIONS_PER_USER + c.session] as Client, t.tool, c.arguments));
    }
  }
  const after = await Promise.all(targets.map((t) => t.process?.cpuMicros()));
  const [direct, b, n] = samples.map((s) => median(s));
  const [cpuB, cpuN] = [1, 2].map((j) => ((after[j] ?? 0) - (before[j] ?? 0)) / CALLS_PER_WINDOW);
  added.base.push(b! - direct!);
  added.new.push(n! - direct!);
  cpu.base.push(cpuB!);
  cpu.new.push(cpuN!);
  cpuRatio.push(cpuN! / cpuB!);
  p50Diff.push(n! - b!);
  console.log(
    `window ${w + 1}: p50 direct ${direct!.toFixed(3)} base ${b!.toFixed(3)} new ${n!.toFixed(3)} ms; cpu/call base ${cpuB!.toFixed(0)} new ${cpuN!.toFixed(0)} µs`,
  );
}
console.log(
  `\nMCP get_records (2-8 KB), guards ${guards ? "on" : "off"}, ${WINDOWS} windows of ${CALLS_PER_WINDOW} sequential calls per target, medians:`,
);
console.log(`  added p50 vs direct: base ${median(added.base).toFixed(3)} ms, new ${median(added.new).toFixed(3)} ms`);
console.log(`  p50 new - base: ${median(p50Diff).toFixed(3)} ms`);
console.log(`  gateway CPU per call: base ${median(cpu.base).toFixed(0)} µs, new ${median(cpu.new).toFixed(0)} µs`);
console.log(`  CPU per call new/base: ${median(cpuRatio).toFixed(3)}`);

for (const t of targets) for (const s of t.sessions) await s.close();
baseProcess.close();
newProcess.close();
upstreams.close();
await as.close();
