/**
 * MCP `tools/call` through the gateway vs the same upstream called directly, in the same run.
 *
 * Setup: the real gateway (JWT verification against the oidc-provider stand-in included) twice — with the
 * sample guard policy and with no guards — each in a process of its own, built like the image and pinned
 * to core 1 (./support/gateway-process.ts), as it is deployed: a pod of its own. This process, pinned to
 * core 0, holds the load generator (the MCP SDK Client) and the authorization server; the streamable-HTTP
 * upstreams (SDK McpServer, tools `get_time` and `get_records`) run in a process of their own on core 0
 * (./support/mcp-upstreams.ts), as an agent and the server it calls are two processes. The gateway is not
 * charged for their work.
 * Latency: sequential calls, p50/p99 per repetition. Throughput: calls/s with 16 calls in flight.
 * Direct and gateway runs are interleaved, 5 repetitions each; medians, and the medians of the added p50
 * and of the throughput ratio computed within each repetition, are printed, with the gateway's CPU time
 * per call at 16 in flight and in the sequential phase, and, in the sequential phase, how long per call the
 * gateway's event loop and this process's waited for a core (runnable while other processes had it:
 * /proc/<pid>/schedstat), which on a shared machine is most of the added latency.
 * Two workloads side by side: today's (`get_time`, a result of a few bytes, one client with one token) and
 * the agent workload's (`get_records` on ./support/records-upstream.ts: seeded arguments, every call
 * distinct, a JSON result of 2-8 KB with PII in a fifth of them, from MCP_USERS users with a token each and
 * SESSIONS_PER_USER sessions each, the caller of each call picked at random), measured the same way, the
 * same calls from the same sessions for every target (direct: as many sessions, without tokens).
 * Targets: ≤ 1 ms added at p50, ≥ 50% of direct throughput; on the agent workload ≤ 1 ms added at p50.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer } from "../examples/local-platform/auth-server.js";
import { TEST_CLIENTS, TEST_SECRET_ENV, authTestBundle } from "../test/support/gateway.js";
import { agentClients, agentTokens } from "./support/agent-users.js";
import { readFileSync } from "node:fs";
import {
  type GatewayProcess,
  type SchedStat,
  describeProxyProcess,
  pinThisProcess,
  startGatewayProcess,
} from "./support/gateway-process.js";
import { startMcpUpstreams } from "./support/mcp-upstreams.js";
import { type AgentToolCall, createToolCallWorkload } from "./workload/agent.js";

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 5);
const LATENCY_CALLS = 400;
const THROUGHPUT_CALLS = 2000;
const CONCURRENCY = 16;
const AUDIENCE = "https://gateway.bench.test";
/** Users of the agent workload's MCP calls, each with a token of its own (`BENCH_MCP_USERS`). */
const MCP_USERS = Number(process.env.BENCH_MCP_USERS ?? 32);
/** MCP sessions each user holds open (an agent with several tasks in flight). */
const SESSIONS_PER_USER = 2;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
};

async function connect(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: "bench", version: "1.0.0" });
  const fetchQuietly: typeof fetch = (input, init) => {
    // Same for every client: a per-request signal, or undici's per-Request abort listeners pile up on the
    // transport's long-lived signal and print a warning with a stack trace per call.
    return fetch(input, init?.signal ? { ...init, signal: AbortSignal.any([init.signal]) } : init);
  };
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      fetch: fetchQuietly,
      ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
    }),
  );
  return client;
}

/**
 * The i-th call: its arguments (none for today's workload) and which of a target's sessions makes it (today's
 * workload: the one session; the agent workload's: the caller's, the same for every target).
 */
type Calls = (i: number) => { readonly args: Record<string, unknown>; readonly session: number };
const noArguments: Calls = () => ({ args: {}, session: 0 });

async function call(client: Client, tool: string, args: Record<string, unknown>): Promise<void> {
  const result = await client.callTool({ name: tool, arguments: args });
  if (result.isError) throw new Error(`${tool}: ${JSON.stringify(result.content).slice(0, 300)}`);
}

async function latency(sessions: readonly Client[], tool: string, calls: Calls): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_CALLS; i++) {
    const { args, session } = calls(i);
    const start = process.hrtime.bigint();
    await call(sessions[session] as Client, tool, args);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

async function throughput(sessions: readonly Client[], tool: string, calls: Calls): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < THROUGHPUT_CALLS; i = next++) {
        const { args, session } = calls(i);
        await call(sessions[session] as Client, tool, args);
      }
    }),
  );
  return THROUGHPUT_CALLS / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** `count` seeded agent calls, each from its user's session (user-major: user u's sessions are u*S .. u*S+S-1). */
function agentCallList(next: () => AgentToolCall, count: number): Calls {
  const calls = Array.from({ length: count }, next);
  return (i) => {
    const c = calls[i % calls.length] as AgentToolCall;
    return { args: { ...c.arguments }, session: c.user * SESSIONS_PER_USER + c.session };
  };
}

function mcpSection(webUrl: string, recordsUrl: string) {
  return {
    path: "/mcp",
    policy: "default",
    upstreams: [
      { id: "web", transport: { type: "streamable-http" as const, url: webUrl } },
      { id: "records", transport: { type: "streamable-http" as const, url: recordsUrl } },
    ],
    grants: [
      { scope: "mcp:read", upstream: "web", tools: ["get_*"] },
      { scope: "mcp:read", upstream: "records", tools: ["get_*"] },
    ],
    deny: [],
    alwaysBlocked: [{ upstream: "*", tools: ["*delete*"], reason: "destructive" }],
  };
}

type Series = {
  p50: number[];
  p99: number[];
  rps: number[];
  cpuPerCall: number[];
  /** Sequential phase, per call: the gateway's CPU, its event loop's wait for a core, this process's wait. */
  seqCpu: number[];
  seqWait: number[];
  loadWait: number[];
};
const series = (): Series => ({ p50: [], p99: [], rps: [], cpuPerCall: [], seqCpu: [], seqWait: [], loadWait: [] });

/** This process's main thread (load generator and upstreams) as the scheduler saw it; undefined off Linux. */
function ownSchedStat(): SchedStat | undefined {
  try {
    const [run, wait, slices] = readFileSync("/proc/thread-self/schedstat", "utf8").trim().split(" ").map(Number);
    return { runMicros: (run ?? 0) / 1000, waitMicros: (wait ?? 0) / 1000, slices: slices ?? 0 };
  } catch {
    return undefined;
  }
}
const waitedPerCall = (before: SchedStat | undefined, after: SchedStat | undefined) =>
  before && after ? (after.waitMicros - before.waitMicros) / LATENCY_CALLS : Number.NaN;
const AGENT_PII_FRACTION = 0.2;

/** The sessions of a target, on one workload. */
interface Lane {
  readonly sessions: readonly Client[];
  readonly tool: string;
  readonly series: Series;
}

async function main(): Promise<void> {
  pinThisProcess();
  const upstreams = await startMcpUpstreams({ piiFraction: AGENT_PII_FRACTION });
  const as = await startAuthServer({
    audience: AUDIENCE,
    scopes: ["mcp:read"],
    clients: [TEST_CLIENTS.reader, ...agentClients(MCP_USERS, ["mcp:read"])],
  });
  const base = authTestBundle(as.issuer, AUDIENCE);
  // The sample's guard policy (PII mask, injection block, credential-leak block) without its
  // 60-requests-per-minute budget, which would stop the benchmark; and the same gateway without guards.
  const guarded = await startGatewayProcess({
    mode: "tollgate",
    bundle: {
      ...base,
      guardPolicies: base.guardPolicies.map(({ limits: _limits, ...policy }) => policy),
      mcp: mcpSection(upstreams.web, upstreams.records),
    },
    env: TEST_SECRET_ENV,
  });
  const bare = await startGatewayProcess({
    mode: "tollgate",
    bundle: { ...base, guardPolicies: [{ id: "default" }], mcp: mcpSection(upstreams.web, upstreams.records) },
    env: TEST_SECRET_ENV,
  });
  const { clientId, clientSecret, scopes } = TEST_CLIENTS.reader;
  const token = (await as.clientCredentials({ clientId, clientSecret, scopes: [...scopes] })).access_token;
  const userTokens = await agentTokens(as, MCP_USERS, ["mcp:read"]);
  const mcpUrl = (gateway: GatewayProcess) => `http://127.0.0.1:${gateway.port}/mcp`;
  const lane = async (url: string, tool: string, bearer?: string): Promise<Lane> => ({
    sessions: [await connect(url, bearer)],
    tool,
    series: series(),
  });
  /** SESSIONS_PER_USER sessions per user, each with its user's token (`withTokens`) or none (direct). */
  const agentLane = async (url: string, tool: string, withTokens: boolean): Promise<Lane> => {
    const sessions: Client[] = [];
    for (const token of userTokens)
      for (let s = 0; s < SESSIONS_PER_USER; s++) sessions.push(await connect(url, withTokens ? token : undefined));
    return { sessions, tool, series: series() };
  };
  const targets: { name: string; process: GatewayProcess | undefined; today: Lane; agent: Lane }[] = [
    {
      name: "direct",
      process: undefined,
      today: await lane(upstreams.web, "get_time"),
      agent: await agentLane(upstreams.records, "get_records", false),
    },
    {
      name: "gateway, no guards",
      process: bare,
      today: await lane(mcpUrl(bare), "web__get_time", token),
      agent: await agentLane(mcpUrl(bare), "records__get_records", true),
    },
    {
      name: "gateway, guards on",
      process: guarded,
      today: await lane(mcpUrl(guarded), "web__get_time", token),
      agent: await agentLane(mcpUrl(guarded), "records__get_records", true),
    },
  ];
  const callers = { users: MCP_USERS, sessionsPerUser: SESSIONS_PER_USER };
  const agentCalls = createToolCallWorkload({ seed: 1, ...callers });
  // Warm-up: JIT, connection pools, every session and token once (token verification cache), then 200 calls.
  const warmUp = agentCallList(createToolCallWorkload({ seed: 2, ...callers }), 200);
  for (const t of targets) {
    for (const session of t.agent.sessions) await call(session, t.agent.tool, warmUp(0).args);
    for (let i = 0; i < 200; i++) {
      await call(t.today.sessions[0] as Client, t.today.tool, {});
      const { args, session } = warmUp(i);
      await call(t.agent.sessions[session] as Client, t.agent.tool, args);
    }
  }

  type Target = (typeof targets)[number];
  for (let rep = 0; rep < REPETITIONS; rep++) {
    const workloads = [
      { pick: (t: Target) => t.today, latencyArgs: noArguments, throughputArgs: noArguments },
      {
        pick: (t: Target) => t.agent,
        latencyArgs: agentCallList(agentCalls, LATENCY_CALLS),
        throughputArgs: agentCallList(agentCalls, THROUGHPUT_CALLS),
      },
    ];
    for (const { pick, latencyArgs, throughputArgs } of workloads) {
      for (const t of targets) {
        const { sessions, tool, series: s } = pick(t);
        const cpuBefore = (await t.process?.cpuMicros()) ?? Number.NaN;
        const [gatewayBefore, ownBefore] = [t.process?.schedStat(), ownSchedStat()];
        const l = await latency(sessions, tool, latencyArgs);
        const [gatewayAfter, ownAfter] = [t.process?.schedStat(), ownSchedStat()];
        s.seqCpu.push((((await t.process?.cpuMicros()) ?? Number.NaN) - cpuBefore) / LATENCY_CALLS);
        s.seqWait.push(waitedPerCall(gatewayBefore, gatewayAfter));
        s.loadWait.push(waitedPerCall(ownBefore, ownAfter));
        s.p50.push(l.p50);
        s.p99.push(l.p99);
      }
      for (const t of targets) {
        const { sessions, tool, series: s } = pick(t);
        const cpuBefore = (await t.process?.cpuMicros()) ?? Number.NaN;
        s.rps.push(await throughput(sessions, tool, throughputArgs));
        s.cpuPerCall.push((((await t.process?.cpuMicros()) ?? Number.NaN) - cpuBefore) / THROUGHPUT_CALLS);
      }
    }
  }

  const [direct] = targets;
  if (!direct) return;
  console.log(
    `MCP tools/call, ${REPETITIONS} interleaved repetitions (${LATENCY_CALLS} sequential calls; ${THROUGHPUT_CALLS} calls at concurrency ${CONCURRENCY}), medians; ${describeProxyProcess()}:`,
  );
  type Added = { addedP50: number; addedP99: number; ratio: number };
  const workloadNames = {
    today: "today's workload (get_time, one client)",
    agent: `agent workload (get_records, 2-8 KB results; ${MCP_USERS} users with a token each, ${SESSIONS_PER_USER} sessions each)`,
  };
  const summary = new Map<string, Partial<Record<"today" | "agent", Added>>>();
  for (const which of ["today", "agent"] as const) {
    console.log(`\n${workloadNames[which]}:`);
    for (const t of targets) {
      const s = t[which].series;
      const cpu = t.process ? `   gateway cpu ${median(s.cpuPerCall).toFixed(0)} µs/call` : "";
      const gateway = t.process
        ? `gateway cpu ${median(s.seqCpu).toFixed(0)} µs/call, waited for a core ${median(s.seqWait).toFixed(0)} µs/call; `
        : "";
      console.log(
        `${t.name.padEnd(20)} p50 ${median(s.p50).toFixed(3)} ms   p99 ${median(s.p99).toFixed(3)} ms   ${median(s.rps).toFixed(0)} calls/s${cpu}`,
      );
      console.log(
        `${"".padEnd(20)} sequential: ${gateway}load generator waited for a core ${median(s.loadWait).toFixed(0)} µs/call`,
      );
    }
    const base = direct[which].series;
    for (const t of targets.slice(1)) {
      const s = t[which].series;
      // Within each repetition (the targets ran back to back), then the median: drift on a shared machine cancels.
      const addedP50 = median(s.p50.map((p50, i) => p50 - (base.p50[i] ?? Number.NaN)));
      const addedP99 = median(s.p99.map((p99, i) => p99 - (base.p99[i] ?? Number.NaN)));
      const ratio = median(s.rps.map((rps, i) => rps / (base.rps[i] ?? Number.NaN)));
      summary.set(t.name, { ...summary.get(t.name), [which]: { addedP50, addedP99, ratio } });
      console.log(
        `${t.name}: added p50 ${addedP50.toFixed(3)} ms (target <= 1 ms: ${addedP50 <= 1 ? "met" : "NOT met"}), added p99 ${addedP99.toFixed(3)} ms, ` +
          `p50 ratio ${(median(s.p50) / median(base.p50)).toFixed(2)}x, ` +
          `throughput ${(ratio * 100).toFixed(1)}% of direct${which === "today" ? ` (target >= 50%: ${ratio >= 0.5 ? "met" : "NOT met"})` : ""}`,
      );
    }
  }
  console.log(`\nSide by side, gateway vs direct (medians of per-repetition differences and ratios):`);
  console.log(`  ${"".padEnd(48)} ${"today's workload".padEnd(22)} agent workload`);
  const rows: [string, (v: Added) => string][] = [
    ["added p50 (ms; target <= 1)", (v) => `${v.addedP50.toFixed(3)} ${v.addedP50 <= 1 ? "MET" : "MISSED"}`],
    ["added p99 (ms)", (v) => v.addedP99.toFixed(3)],
    ["throughput vs direct", (v) => `${(v.ratio * 100).toFixed(1)}%`],
  ];
  for (const [name, both] of summary)
    for (const [label, format] of rows)
      console.log(
        `  ${`${name}, ${label}`.padEnd(48)} ${(both.today ? format(both.today) : "").padEnd(22)} ${both.agent ? format(both.agent) : ""}`,
      );

  for (const t of targets) for (const session of [...t.today.sessions, ...t.agent.sessions]) await session.close();
  guarded.close();
  bare.close();
  upstreams.close();
  await as.close();
}

await main();
