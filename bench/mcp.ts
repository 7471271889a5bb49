/**
 * MCP `tools/call` through the gateway vs the same upstream called directly, in the same run.
 *
 * Setup, all in this one process: the real gateway server (JWT verification against the oidc-provider
 * stand-in included) twice — with the sample guard policy and with no guards — one streamable-HTTP upstream
 * (SDK McpServer, tool `get_time`), and the MCP SDK Client downstream.
 * Latency: sequential calls, p50/p99 per repetition. Throughput: calls/s with 16 calls in flight.
 * Direct and gateway runs are interleaved, 5 repetitions each; medians and ratios are printed.
 * Targets: ≤ 1 ms added at p50, ≥ 50% of direct throughput.
 *
 * The gateway runs every MCP request inside an AsyncLocalStorage (request telemetry). On Node 22 that turns
 * on promise hooks for the whole process (every promise of the client, upstream and gateway pays), unless
 * Node runs with `--experimental-async-context-frame` (the default from Node 24). The first line printed
 * says which; run `node --experimental-async-context-frame --import tsx bench/mcp.ts` for the other.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestPlatform } from "../test/support/gateway";
import { startHttpUpstream } from "../test/runtime/mcp-fixtures";

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 5);
const LATENCY_CALLS = 400;
const THROUGHPUT_CALLS = 2000;
const CONCURRENCY = 16;

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
    new StreamableHTTPClientTransport(new URL(url), { fetch: fetchQuietly, ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}) }),
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

type Series = { p50: number[]; p99: number[]; rps: number[] };

async function main(): Promise<void> {
  const web = await startHttpUpstream();
  // The sample's guard policy (PII mask, injection block, credential-leak block) without its
  // 60-requests-per-minute budget, which would stop the benchmark; and the same gateway without guards.
  const guarded = await startTestPlatform({
    bundle: (bundle) => ({ ...bundle, guardPolicies: bundle.guardPolicies.map(({ limits: _limits, ...policy }) => policy), mcp: mcpSection(web.url) }),
  });
  const bare = await startTestPlatform({ bundle: (bundle) => ({ ...bundle, guardPolicies: [{ id: "default" }], mcp: mcpSection(web.url) }) });
  const targets: { name: string; client: Client; tool: string; series: Series }[] = [
    { name: "direct", client: await connect(web.url), tool: "get_time", series: { p50: [], p99: [], rps: [] } },
    { name: "gateway, no guards", client: await connect(bare.mcpUrl, await bare.token("reader")), tool: "web__get_time", series: { p50: [], p99: [], rps: [] } },
    { name: "gateway, guards on", client: await connect(guarded.mcpUrl, await guarded.token("reader")), tool: "web__get_time", series: { p50: [], p99: [], rps: [] } },
  ];
  // Warm-up: JIT, connection pools, token verification cache.
  for (let i = 0; i < 200; i++) for (const t of targets) await t.client.callTool({ name: t.tool, arguments: {} });

  for (let rep = 0; rep < REPETITIONS; rep++) {
    for (const t of targets) {
      const l = await latency(t.client, t.tool);
      t.series.p50.push(l.p50);
      t.series.p99.push(l.p99);
    }
    for (const t of targets) t.series.rps.push(await throughput(t.client, t.tool));
  }

  const [direct] = targets;
  if (!direct) return;
  const frames = process.execArgv.includes("--experimental-async-context-frame") || (process.env.NODE_OPTIONS ?? "").includes("--experimental-async-context-frame");
  console.log(`AsyncLocalStorage: ${frames ? "async context frames (--experimental-async-context-frame)" : "promise hooks (Node 22 default)"}`);
  console.log(`MCP tools/call, ${REPETITIONS} interleaved repetitions (${LATENCY_CALLS} sequential calls; ${THROUGHPUT_CALLS} calls at concurrency ${CONCURRENCY}), medians:`);
  for (const t of targets) {
    console.log(`${t.name.padEnd(20)} p50 ${median(t.series.p50).toFixed(3)} ms   p99 ${median(t.series.p99).toFixed(3)} ms   ${median(t.series.rps).toFixed(0)} calls/s`);
  }
  for (const t of targets.slice(1)) {
    const addedP50 = median(t.series.p50) - median(direct.series.p50);
    const ratio = median(t.series.rps) / median(direct.series.rps);
    console.log(
      `${t.name}: added p50 ${addedP50.toFixed(3)} ms (target <= 1 ms: ${addedP50 <= 1 ? "met" : "NOT met"}), ` +
        `p50 ratio ${(median(t.series.p50) / median(direct.series.p50)).toFixed(2)}x, ` +
        `throughput ${(ratio * 100).toFixed(1)}% of direct (target >= 50%: ${ratio >= 0.5 ? "met" : "NOT met"})`,
    );
  }

  for (const t of targets) await t.client.close();
  await guarded.close();
  await bare.close();
  await web.close();
}

await main();
