/**
 * The proxy under test of bench/llm.ts, bench/mcp.ts and bench/soak.ts, a process of its own (started, built and pinned
 * by ./gateway-process.ts):
 * `passthrough` — the Node floor: a minimal undici pass-through to the upstream;
 * `tollgate` — the real gateway (startGateway) with the full chain of the bundle it is given;
 * `llmstage` — diagnostic: only the LLM stage (createLlmGateway + limiter + guards + audit to /dev/null)
 *   behind a bare HTTP server with a principal per bearer token (unverified), i.e. Tollgate minus server, JWT and telemetry.
 * Audit lines go to /dev/null through the same buffered asynchronous destination as stdout in production.
 * Reports its port over IPC and answers `{type:"usage"}` with its CPU time, peak RSS and current RSS, and
 * `{type:"pauses"}` with what stopped its event loop since the last such question: the event-loop delay
 * (monitorEventLoopDelay) and the garbage collector's pauses, young generation (scavenges) apart from the rest.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PerformanceObserver, constants, monitorEventLoopDelay } from "node:perf_hooks";
import { Pool } from "undici";
import { type BundleInput, type SecretRef, orThrow, validateRuntimeBundle } from "../../policies/bundle/index.js";
import { RequestCancellation } from "../../runtime/http/cancellation.js";
import type { ActiveConfig, RequestContext } from "../../runtime/http/types.js";
import { createRateLimiter } from "../../runtime/limits/index.js";
import { createLlmGateway } from "../../runtime/llm/index.js";
import { bufferedAuditDestination, createAuditLog } from "../../runtime/observability/audit.js";
import { startGateway } from "../../runtime/server/index.js";
import type { ChildPauses, ChildUsage } from "./gateway-process.js";

export interface ChildConfig {
  readonly mode: "passthrough" | "tollgate" | "llmstage";
  /** The upstream base URL (`passthrough` and `llmstage`). */
  readonly upstream?: string;
  readonly bundle?: BundleInput;
  readonly env?: Record<string, string>;
}

async function passthrough(config: ChildConfig): Promise<number> {
  const upstream = config.upstream;
  if (!upstream) throw new Error("passthrough mode needs an upstream");
  const pool = new Pool(upstream, { connections: 64, pipelining: 1 });
  const server = createServer((req, res) => {
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.authorization;
    delete headers.connection;
    pool
      .request({
        path: req.url ?? "/",
        method: (req.method ?? "GET") as "GET" | "POST",
        headers,
        body: req.method === "POST" ? req : null,
      })
      .then(async ({ statusCode, headers: upstreamHeaders, body }) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upstreamHeaders))
          if (v !== undefined && k !== "connection" && k !== "keep-alive" && k !== "transfer-encoding") out[k] = v;
        res.writeHead(statusCode, out);
        for await (const chunk of body) res.write(chunk);
        res.end();
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function tollgate(config: ChildConfig): Promise<number> {
  if (!config.bundle) throw new Error("tollgate mode needs a bundle");
  const gateway = await startGateway({
    source: { kind: "inline", bundle: config.bundle },
    port: 0,
    env: config.env ?? {},
    audit: createAuditLog(bufferedAuditDestination("/dev/null")),
    log: () => undefined,
    watch: false,
  });
  return Number(new URL(gateway.url).port);
}

async function llmStage(config: ChildConfig): Promise<number> {
  if (!config.bundle) throw new Error("llmstage mode needs a bundle");
  const env = config.env ?? {};
  const active: ActiveConfig = {
    bundle: orThrow(validateRuntimeBundle(config.bundle)),
    digest: "sha256:bench",
    secrets: { read: (ref: SecretRef) => ("env" in ref ? (env[ref.env] ?? "") : "") },
  };
  const audit = createAuditLog(bufferedAuditDestination("/dev/null"));
  const limiter = await createRateLimiter(active);
  const gateway = createLlmGateway(active, { audit, limiter });
  // No JWT verification here, but one principal per bearer token, as the full gateway has: the history memory
  // remembers each principal's conversations, and the agent workload's 64 users sharing one principal would
  // overflow its per-principal bound and make every turn a miss.
  const principals = new Map<string, RequestContext["principal"]>();
  const principalOf = (authorization = "") => {
    let principal = principals.get(authorization);
    if (!principal) {
      principal = {
        issuer: "bench",
        subject: `bench-user-${principals.size}`,
        clientId: "bench",
        scopes: ["mcp:read"],
        expiresAt: 4_000_000_000,
        token: "",
      };
      principals.set(authorization, principal);
    }
    return principal;
  };
  let id = 0;
  const server = createServer((req, res) => {
    const handler = gateway.route(new URL(req.url ?? "/", "http://x").pathname);
    if (!handler) return void res.writeHead(404).end();
    const cancellation = new RequestCancellation();
    res.once("close", () => {
      if (!res.writableFinished) cancellation.cancel(new Error("the client went away"));
    });
    const ctx: RequestContext = {
      requestId: String(++id),
      traceId: undefined,
      principal: principalOf(req.headers.authorization),
      config: active,
      audit,
      cancellation,
    };
    handler(ctx, req, res).catch(() => res.end());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

const NO_PAUSES: ChildPauses = {
  loopDelayP99Ms: 0,
  loopDelayMaxMs: 0,
  young: { count: 0, ms: 0, maxMs: 0 },
  other: { count: 0, ms: 0, maxMs: 0 },
};

/** Event-loop delay and GC pauses since the last {@link takePauses}. */
function watchPauses(): () => ChildPauses {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const young = { count: 0, ms: 0, maxMs: 0 };
  const other = { count: 0, ms: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      const bucket = kind === constants.NODE_PERFORMANCE_GC_MINOR ? young : other;
      bucket.count++;
      bucket.ms += entry.duration;
      bucket.maxMs = Math.max(bucket.maxMs, entry.duration);
    }
  }).observe({ entryTypes: ["gc"] });
  return () => {
    const pauses: ChildPauses = {
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
      young: { ...young },
      other: { ...other },
    };
    delay.reset();
    for (const bucket of [young, other]) Object.assign(bucket, { count: 0, ms: 0, maxMs: 0 });
    return pauses;
  };
}

if (!process.send) {
  console.log(
    "bench/support/gateway-child.ts is the proxy process of bench/llm.ts and bench/mcp.ts; run `npm run bench -- llm mcp`.",
  );
} else {
  process.once("message", (message: ChildConfig) => {
    const start =
      message.mode === "passthrough"
        ? passthrough(message)
        : message.mode === "llmstage"
          ? llmStage(message)
          : tollgate(message);
    start.then(
      (port) => {
        // Started by the first question about pauses (which answers nothing yet): the monitor's 1 ms timer wakes the
        // process a thousand times a second, CPU and timeslices a benchmark that never asks must not charge it.
        let takePauses: (() => ChildPauses) | undefined;
        process.on("message", (m: { type?: string }) => {
          if (m.type === "pauses") {
            const pauses = takePauses?.() ?? NO_PAUSES;
            takePauses ??= watchPauses();
            process.send?.({ type: "pauses", pauses });
          }
          if (m.type === "usage")
            process.send?.({
              type: "usage",
              usage: {
                cpu: process.cpuUsage(),
                maxRssKb: process.resourceUsage().maxRSS,
                rssKb: process.memoryUsage.rss() / 1024,
              } satisfies ChildUsage,
            });
          if (m.type === "exit") process.exit(0);
        });
        process.send?.({ type: "ready", port });
      },
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
