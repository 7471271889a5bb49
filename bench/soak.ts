/**
 * Soak: the agent workload (./workload/agent.ts: many users with a token each, conversations growing
 * 4-64 KB, tool calls, PII in a fraction of the messages, a quarter of the requests streamed) through
 * Tollgate with the full chain at a fixed rate for a long time, to see whether latency and memory stay
 * flat while the gateway's caches fill and conversations come and go.
 *
 * Setup as in bench/llm.ts: the gateway built like the image in a process of its own pinned to core 1;
 * the load generator, the upstream (./support/llm-stand-in.ts, streams written event by event) and the
 * authorization server on core 0. Requests are sent on a fixed schedule whatever the
 * answers' latency, so a gateway that falls behind shows it as latency rather than a lower rate.
 * Per interval (a minute by default): p50 and p99 of the requests started in it, errors, and the
 * gateway's RSS at its end. Then the least-squares slope and the last-to-first ratio of p99 and RSS, over
 * the whole run and over its second half (once caches have filled), and whether they stayed flat.
 *
 * BENCH_SOAK_SECONDS (default 600), BENCH_SOAK_RATE (requests/s, default 100), BENCH_AGENT_USERS (64).
 * Target (issue 22): steady p99 and flat RSS over 10 minutes.
 */
import { Pool } from "undici";
import { startAuthServer } from "../examples/local-platform/auth-server.js";
import { authTestBundle } from "../test/support/gateway.js";
import { AGENT_USERS, type Call, agentCalls, agentClients, agentHeaders } from "./support/agent-users.js";
import {
  FULL_CHAIN_POLICY,
  describeProxyProcess,
  pinThisProcess,
  startGatewayProcess,
} from "./support/gateway-process.js";
import { startBenchUpstream } from "./support/llm-stand-in.js";
import { createAgentWorkload } from "./workload/agent.js";

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const RATE = Number(process.env.BENCH_SOAK_RATE ?? 100);
/** A minute, or a fifth of a short run. */
const INTERVAL_SECONDS = SECONDS >= 300 ? 60 : Math.max(5, Math.floor(SECONDS / 5));
const STREAM_FRACTION = 0.25;
const PII_FRACTION = 0.2;
/** Beyond this many requests in flight the gateway has fallen far behind; later sends are counted as dropped. */
const MAX_IN_FLIGHT = 4000;
const AUDIENCE = "https://gateway.bench.test";

const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
};

/** Least-squares slope of `ys` over `xs`. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

interface Interval {
  readonly latencies: number[];
  errors: number;
  dropped: number;
  rssMb: number;
}

async function main(): Promise<void> {
  if (!(SECONDS >= 10) || !(RATE > 0))
    throw new Error(`BENCH_SOAK_SECONDS must be >= 10 and BENCH_SOAK_RATE > 0, got ${SECONDS} and ${RATE}`);
  pinThisProcess();
  const upstream = await startBenchUpstream({ streamWrites: "per-event" });
  const as = await startAuthServer({
    audience: AUDIENCE,
    scopes: ["mcp:read"],
    clients: agentClients(AGENT_USERS, ["mcp:read"]),
  });
  const headers = await agentHeaders(as, AGENT_USERS, ["mcp:read"]);
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
  const gateway = await startGatewayProcess({ mode: "tollgate", bundle, env: { BENCH_KEY: "bench-provider-key" } });
  const pool = new Pool(`http://127.0.0.1:${gateway.port}`, { connections: 256, pipelining: 1 });
  const workload = createAgentWorkload({
    seed: 11,
    users: AGENT_USERS,
    piiFraction: PII_FRACTION,
    streamFraction: STREAM_FRACTION,
  });

  const send = async ({ payload, headers: callHeaders }: Call): Promise<boolean> => {
    const { statusCode, body } = await pool.request({
      path: "/openai/v1/chat/completions",
      method: "POST",
      headers: callHeaders,
      body: payload,
    });
    for await (const _chunk of body);
    return statusCode === 200;
  };

  console.log(
    `Soak: the agent workload through Tollgate (full chain) at ${RATE} req/s for ${SECONDS} s, intervals of ${INTERVAL_SECONDS} s; ` +
      `${AGENT_USERS} users with a token each, ${STREAM_FRACTION * 100}% streamed, PII in ${PII_FRACTION * 100}% of new messages; ${describeProxyProcess()}`,
  );
  // Warm-up: JIT and the token cache, away from the measured intervals.
  for (const call of agentCalls(createAgentWorkload({ seed: 12, users: AGENT_USERS }).take(300), headers))
    await send(call);
  const rssAtStart = await gateway.rssMb();

  const intervals: Interval[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.floor(SECONDS * RATE);
  let sent = 0;
  /** Requests generated ahead, a second's worth at a time, so generating never delays a send by much. */
  let queue: Call[] = [];
  let sampled = 0;
  /** At the end of an interval: the gateway's RSS (its latencies are printed once all its answers are in). */
  const sample = async (index: number) => {
    const interval = intervals[index];
    if (!interval) return;
    interval.rssMb = await gateway.rssMb();
    console.log(
      `  ${String((index + 1) * INTERVAL_SECONDS).padStart(5)} s  gateway RSS ${interval.rssMb.toFixed(0)} MB, ${inFlight.size} requests in flight`,
    );
  };
  while (sent < total) {
    const elapsed = (performance.now() - start) / 1000;
    const due = Math.min(total, Math.floor(elapsed * RATE) + 1);
    for (; sent < due; sent++) {
      const index = Math.floor(sent / RATE / INTERVAL_SECONDS);
      const interval = (intervals[index] ??= { latencies: [], errors: 0, dropped: 0, rssMb: Number.NaN });
      if (queue.length === 0) queue = agentCalls(workload.take(RATE), headers);
      const call = queue.shift() as Call;
      if (inFlight.size >= MAX_IN_FLIGHT) {
        interval.dropped++;
        continue;
      }
      const begun = performance.now();
      const request = send(call).then(
        (ok) => void (ok ? interval.latencies.push(performance.now() - begun) : interval.errors++),
        () => void interval.errors++,
      );
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    const current = Math.floor(elapsed / INTERVAL_SECONDS);
    for (; sampled < current && sampled < intervals.length; sampled++) await sample(sampled);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  for (; sampled < intervals.length; sampled++) await sample(sampled);
  await Promise.all(inFlight);
  console.log("\nPer interval, by the requests started in it:");
  intervals.forEach((interval, index) => {
    const l = interval.latencies;
    console.log(
      `  ${String((index + 1) * INTERVAL_SECONDS).padStart(5)} s  answered ${String(l.length).padStart(6)}  p50 ${percentile(l, 0.5).toFixed(2).padStart(8)} ms  p99 ${percentile(l, 0.99).toFixed(2).padStart(8)} ms  ` +
        `errors ${interval.errors}  dropped ${interval.dropped}  gateway RSS ${interval.rssMb.toFixed(0)} MB`,
    );
  });

  const minutes = intervals.map((_, i) => ((i + 1) * INTERVAL_SECONDS) / 60);
  const p99s = intervals.map((interval) => percentile(interval.latencies, 0.99));
  const p50s = intervals.map((interval) => percentile(interval.latencies, 0.5));
  const rss = intervals.map((interval) => interval.rssMb);
  const half = Math.floor(intervals.length / 2);
  const describe = (label: string, values: number[], unit: string) => {
    const whole = slope(minutes, values);
    const second = slope(minutes.slice(half), values.slice(half));
    const ratio = (values.at(-1) ?? Number.NaN) / (values[0] ?? Number.NaN);
    console.log(
      `  ${label.padEnd(12)} slope ${whole.toFixed(3)} ${unit}/min over the run, ${second.toFixed(3)} ${unit}/min over its second half; last/first ${ratio.toFixed(2)}`,
    );
    return second;
  };
  console.log(
    `\nOver ${intervals.length} intervals (gateway RSS after warm-up ${rssAtStart.toFixed(0)} MB; errors ${intervals.reduce((a, i) => a + i.errors, 0)}, dropped ${intervals.reduce((a, i) => a + i.dropped, 0)}):`,
  );
  const p50Slope = describe("p50", p50s, "ms");
  const p99Slope = describe("p99", p99s, "ms");
  const rssSlope = describe("gateway RSS", rss, "MB");
  // Flat: over the second half, the trend moves the value by at most a fifth of its median (p99) or a
  // tenth (RSS): noise of a shared machine moves single intervals more than that, a leak moves the trend.
  const secondHalfMinutes = (minutes.at(-1) ?? 0) - (minutes[half] ?? 0);
  const complete = intervals.every((interval) => interval.latencies.length > 0);
  const steady = (trend: number, values: number[]) =>
    complete && Math.abs(trend * secondHalfMinutes) <= 0.2 * percentile(values.slice(half), 0.5);
  // A gateway that falls behind the rate shows a p50 that keeps growing: p99 is steady only if p50 is too.
  const p99Steady = steady(p50Slope, p50s) && steady(p99Slope, p99s);
  const rssFlat = complete && rssSlope * secondHalfMinutes <= 0.1 * percentile(rss.slice(half), 0.5);
  console.log(
    `  p99 steady: ${p99Steady ? "yes" : "NO"}; RSS flat: ${rssFlat ? "yes" : "NO"} (second-half trends of p50 and p99 within 20% of their medians, of RSS within 10%)`,
  );

  await pool.close();
  gateway.close();
  await upstream.close();
  await as.close();
  setTimeout(() => process.exit(0), 1000).unref();
}

await main();
