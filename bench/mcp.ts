/**
 * MCP `tools/call` through the gateway vs the same upstream called directly, in the same run.
 *
 * Setup: the real gateway (JWT verification against the oidc-provider stand-in included) twice — with the
 * sample guard policy and with no guards — each in a process of its own, built like the image and pinned
 * to core 1 (./support/gateway-process.ts), as it is deployed: a pod of its own. This process, pinned to
 * core 0, holds the load generator (the MCP SDK Client), the streamable-HTTP upstream (SDK McpServer, tool
 * `get_time`) and the authorization server, so the gateway is not charged for their work.
 * Latency: sequential calls, p50/p99 per repetition. Throughput: calls/s with 16 calls in flight.
 * Direct and gateway runs are interleaved, 5 repetitions each; medians, and the medians of the added p50
 * and of the throughput ratio computed within each repetition, are printed, with the gateway's CPU time
 * per call.
 * Targets: ≤ 1 ms added at p50, ≥ 50% of direct throughput.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startAuthServer } from "../examples/local-platform/auth-server.js";
import { startHttpUpstream } from "../test/runtime/mcp-fixtures.js";
import { TEST_CLIENTS, TEST_SECRET_ENV, authTestBundle } from "../test/support/gateway.js";
import {
  type GatewayProcess,
  describeProxyProcess,
  pinThisProcess,
  startGatewayProcess,
} from "./support/gateway-process.js";

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 5);
const LATENCY_CALLS = 400;
const THROUGHPUT_CALLS = 2000;
const CONCURRENCY = 16;
const AUDIENCE = "https://gateway.bench.test";

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

async function latency(client: Client, tool: string): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_CALLS; i++) {
    const start = process.hrtime.bigint();
    await client.callTool({ name: tool, arguments: {} });
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

async function throughput(client: Client, tool: string): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < THROUGHPUT_CALLS) await client.callTool({ name: tool, arguments: {} });
    }),
  );
  return THROUGHPUT_CALLS / (Number(process.hrtime.bigint() - start) / 1e9);
}

function mcpSection(webUrl: string) {
  return {
    path: "/mcp",
    policy: "default",
    upstreams: [{ id: "web", transport: { type: "streamable-http" as const, url: webUrl } }],
    grants: [{ scope: "mcp:read", upstream: "web", tools: ["get_*"] }],
    deny: [],
    alwaysBlocked: [{ upstream: "*", tools: ["*delete*"], reason: "destructive" }],
  };
}

type Series = { p50: number[]; p99: number[]; rps: number[]; cpuPerCall: number[] };
const series = (): Series => ({ p50: [], p99: [], rps: [], cpuPerCall: [] });

async function main(): Promise<void> {
  pinThisProcess();
  const web = await startHttpUpstream();
  const as = await startAuthServer({ audience: AUDIENCE, scopes: ["mcp:read"], clients: [TEST_CLIENTS.reader] });
  const base = authTestBundle(as.issuer, AUDIENCE);
  // The sample's guard policy (PII mask, injection block, credential-leak block) without its
  // 60-requests-per-minute budget, which would stop the benchmark; and the same gateway without guards.
  const guarded = await startGatewayProcess({
    mode: "tollgate",
    bundle: {
      ...base,
      guardPolicies: base.guardPolicies.map(({ limits: _limits, ...policy }) => policy),
      mcp: mcpSection(web.url),
    },
    env: TEST_SECRET_ENV,
  });
  const bare = await startGatewayProcess({
    mode: "tollgate",
    bundle: { ...base, guardPolicies: [{ id: "default" }], mcp: mcpSection(web.url) },
    env: TEST_SECRET_ENV,
  });
  const { clientId, clientSecret, scopes } = TEST_CLIENTS.reader;
  const token = (await as.clientCredentials({ clientId, clientSecret, scopes: [...scopes] })).access_token;
  const mcpUrl = (gateway: GatewayProcess) => `http://127.0.0.1:${gateway.port}/mcp`;
  const targets: { name: string; client: Client; tool: string; process: GatewayProcess | undefined; series: Series }[] =
    [
      { name: "direct", client: await connect(web.url), tool: "get_time", process: undefined, series: series() },
      {
        name: "gateway, no guards",
        client: await connect(mcpUrl(bare), token),
        tool: "web__get_time",
        process: bare,
        series: series(),
      },
      {
        name: "gateway, guards on",
        client: await connect(mcpUrl(guarded), token),
        tool: "web__get_time",
        process: guarded,
        series: series(),
      },
    ];
  // Warm-up: JIT, connection pools, token verification cache.
  for (let i = 0; i < 200; i++) for (const t of targets) await t.client.callTool({ name: t.tool, arguments: {} });

  for (let rep = 0; rep < REPETITIONS; rep++) {
    for (const t of targets) {
      const l = await latency(t.client, t.tool);
      t.series.p50.push(l.p50);
      t.series.p99.push(l.p99);
    }
    for (const t of targets) {
      const cpuBefore = (await t.process?.cpuMicros()) ?? Number.NaN;
      t.series.rps.push(await throughput(t.client, t.tool));
      t.series.cpuPerCall.push((((await t.process?.cpuMicros()) ?? Number.NaN) - cpuBefore) / THROUGHPUT_CALLS);
    }
  }

  const [direct] = targets;
  if (!direct) return;
  console.log(
    `MCP tools/call, ${REPETITIONS} interleaved repetitions (${LATENCY_CALLS} sequential calls; ${THROUGHPUT_CALLS} calls at concurrency ${CONCURRENCY}), medians; ${describeProxyProcess()}:`,
  );
  for (const t of targets) {
    const cpu = t.process ? `   gateway cpu ${median(t.series.cpuPerCall).toFixed(0)} µs/call` : "";
    console.log(
      `${t.name.padEnd(20)} p50 ${median(t.series.p50).toFixed(3)} ms   p99 ${median(t.series.p99).toFixed(3)} ms   ${median(t.series.rps).toFixed(0)} calls/s${cpu}`,
    );
  }
  for (const t of targets.slice(1)) {
    // Within each repetition (the targets ran back to back), then the median: drift on a shared machine cancels.
    const addedP50 = median(t.series.p50.map((p50, i) => p50 - (direct.series.p50[i] ?? Number.NaN)));
    const ratio = median(t.series.rps.map((rps, i) => rps / (direct.series.rps[i] ?? Number.NaN)));
    console.log(
      `${t.name}: added p50 ${addedP50.toFixed(3)} ms (target <= 1 ms: ${addedP50 <= 1 ? "met" : "NOT met"}), ` +
        `p50 ratio ${(median(t.series.p50) / median(direct.series.p50)).toFixed(2)}x, ` +
        `throughput ${(ratio * 100).toFixed(1)}% of direct (target >= 50%: ${ratio >= 0.5 ? "met" : "NOT met"})`,
    );
  }

  for (const t of targets) await t.client.close();
  guarded.close();
  bare.close();
  await web.close();
  await as.close();
}

await main();
