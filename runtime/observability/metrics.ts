/**
 * Prometheus metrics on a separate admin port. Label values are bounded by construction: route,
 * upstream and provider ids must belong to the loaded bundle (anything else is counted as `other`),
 * guards and decisions are closed sets, and no label ever carries a principal or a client id.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";
import type { Bundle } from "../../policies/bundle/index.js";
import { AUDIT_DECISIONS, type AuditDecision, type AuditEvent } from "./audit.js";

const OTHER = "other";
const DECISIONS: ReadonlySet<AuditDecision> = new Set(AUDIT_DECISIONS);
/** Guard names as they appear in `guard: <name>` rules. */
export const GUARD_NAMES = ["pii", "prompt-injection", "credential-leak"] as const;
export type GuardLabel = (typeof GUARD_NAMES)[number];

/** Just enough of a bundle to know which label values are legitimate. */
export type LabelSource = Pick<Bundle, "llm" | "mcp" | "metadata"> & Partial<Pick<Bundle, "agents">>;

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Declares the loaded bundle: its ids become the accepted label values, its digest the info gauge. */
  useBundle(bundle: LabelSource, digest: string): void;
  /** A bundle (re)load attempt. */
  bundleReload(ok: boolean): void;
  /** Counts one audit event: requests by route and decision, tokens, guard hits, rate-limit rejections. */
  observeAudit(event: AuditEvent): void;
  /** Latency of one upstream call (an LLM provider or an MCP upstream). */
  observeUpstream(
    kind: "llm" | "mcp",
    target: string,
    provider: string,
    seconds: number,
    outcome: "ok" | "error",
  ): void;
  /** Whether an MCP upstream is reachable (initialize/list succeeded). */
  setMcpUpstreamHealth(upstream: string, up: boolean): void;
  /** Where the MCP session gauges are read from at scrape time (the active runtime's gateway; the latest call wins). */
  watchMcpSessions(source: () => McpSessionCounts): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
}

/** What the MCP gateway of this replica holds right now. */
export interface McpSessionCounts {
  /** Sessions held by this replica (opened here or resumed from their record). */
  readonly sessions: number;
  readonly stdioProcesses: number;
  readonly stdioProcessLimit: number;
  /** Per-principal upstream sets kept for stateless (2026-07-28) MCP clients. */
  readonly statelessSets: number;
}

export function createGatewayMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "tollgate_" });
  // Requests and tokens are counted on every request: plain numbers per label set here, handed to
  // prom-client when it is scraped (its labelled inc hashes and validates the label object per call).
  const requestCounts = new CountsByLabels<"kind" | "route" | "decision">();
  const tokenCounts = new CountsByLabels<"route" | "provider" | "direction">();
  const cachedTokenCounts = new CountsByLabels<"route" | "provider" | "cache">();
  const spendCounts = new CountsByLabels<"route" | "agent">();
  new Counter({
    name: "tollgate_requests_total",
    help: "Decisions by kind, route and outcome",
    labelNames: ["kind", "route", "decision"],
    registers: [registry],
    collect() {
      requestCounts.collectInto(this);
    },
  });
  new Counter({
    name: "tollgate_tokens_total",
    help: "Tokens billed by route, provider and direction",
    labelNames: ["route", "provider", "direction"],
    registers: [registry],
    collect() {
      tokenCounts.collectInto(this);
    },
  });
  // A subset of tollgate_tokens_total{direction="input"}, apart so that summing tokens never counts twice.
  new Counter({
    name: "tollgate_cached_input_tokens_total",
    help: 'Input tokens the provider read from (cache=read) or wrote to (cache=write) its prompt cache, by route and provider; part of tollgate_tokens_total{direction="input"}',
    labelNames: ["route", "provider", "cache"],
    registers: [registry],
    collect() {
      cachedTokenCounts.collectInto(this);
    },
  });
  // No user label: one series per user would grow without bound (the audit events carry the user).
  new Counter({
    name: "tollgate_spend_usd_total",
    help: 'What LLM answers cost in US dollars (provider usage at the bundle\'s prices), by route and agent ("none": no agent)',
    labelNames: ["route", "agent"],
    registers: [registry],
    collect() {
      spendCounts.collectInto(this);
    },
  });
  const guardHits = new Counter({
    name: "tollgate_guard_hits_total",
    help: "Guard interventions by guard and action",
    labelNames: ["guard", "action"],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "tollgate_rate_limit_rejections_total",
    help: "Requests refused by a rate limit, by route",
    labelNames: ["route"],
    registers: [registry],
  });
  const upstreamLatency = new HistogramByLabels<"kind" | "target" | "provider" | "outcome">(
    "tollgate_upstream_latency_seconds",
    "Upstream call latency (LLM providers and MCP upstreams)",
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  registry.registerMetric(upstreamLatency as unknown as Metric);
  const upstreamUp = new Gauge({
    name: "tollgate_mcp_upstream_up",
    help: "1 when the MCP upstream is reachable",
    labelNames: ["upstream"],
    registers: [registry],
  });
  const reloads = new Counter({
    name: "tollgate_bundle_reloads_total",
    help: "Bundle loads by result",
    labelNames: ["result"],
    registers: [registry],
  });
  const bundleInfo = new Gauge({
    name: "tollgate_bundle_info",
    help: "The loaded bundle (value 1)",
    labelNames: ["digest", "environment", "stack"],
    registers: [registry],
  });
  let mcpSessions: (() => McpSessionCounts) | undefined;
  new Gauge({
    name: "tollgate_mcp_sessions",
    help: "MCP sessions this replica holds (opened here or resumed from the session store)",
    registers: [registry],
    collect() {
      this.set(mcpSessions?.().sessions ?? 0);
    },
  });
  new Gauge({
    name: "tollgate_mcp_stateless_sets",
    help: "Per-principal upstream sets this replica keeps for stateless MCP clients",
    registers: [registry],
    collect() {
      this.set(mcpSessions?.().statelessSets ?? 0);
    },
  });
  new Gauge({
    name: "tollgate_mcp_stdio_processes",
    help: "Stdio upstream processes this replica runs for MCP sessions",
    registers: [registry],
    collect() {
      this.set(mcpSessions?.().stdioProcesses ?? 0);
    },
  });
  new Gauge({
    name: "tollgate_mcp_stdio_processes_limit",
    help: "Stdio upstream processes this replica may run; new sessions get 503 past it",
    registers: [registry],
    collect() {
      this.set(mcpSessions?.().stdioProcessLimit ?? 0);
    },
  });
  reloads.inc({ result: "ok" }, 0);
  reloads.inc({ result: "failed" }, 0);

  let routes = new Set<string>();
  let upstreams = new Set<string>();
  let providers = new Set<string>();
  let agents = new Set<string>();
  const known = (set: ReadonlySet<string>, value: string | undefined) =>
    value !== undefined && set.has(value) ? value : OTHER;
  const routeLabel = (event: Pick<AuditEvent, "kind" | "route">) =>
    event.kind === "mcp" ? "mcp" : known(routes, event.route);
  const guardOf = (rule: string | undefined): GuardLabel | typeof OTHER | undefined => {
    const m = rule?.match(/^guard:\s*([a-z-]+)/);
    if (!m) return undefined;
    return (GUARD_NAMES as readonly string[]).includes(m[1]!) ? (m[1] as GuardLabel) : OTHER;
  };

  return {
    registry,
    useBundle(bundle, digest) {
      routes = new Set(bundle.llm.routes.map((r) => r.id));
      upstreams = new Set(bundle.mcp?.upstreams.map((u) => u.id) ?? []);
      agents = new Set(bundle.agents?.map((a) => a.id) ?? []);
      providers = new Set([...bundle.llm.routes.flatMap((r) => r.providers.map((p) => p.id)), ...upstreams]);
      bundleInfo.reset();
      bundleInfo.set({ digest, environment: bundle.metadata.environment, stack: bundle.metadata.stack }, 1);
      upstreamUp.reset();
    },
    bundleReload: (ok) => reloads.inc({ result: ok ? "ok" : "failed" }),
    observeAudit(event) {
      const route = routeLabel(event);
      const decision = DECISIONS.has(event.decision) ? event.decision : OTHER;
      requestCounts.add(1, { kind: event.kind, route, decision }, event.kind, route, decision);
      const provider = known(providers, event.provider);
      if (event.tokensIn)
        tokenCounts.add(event.tokensIn, { route, provider, direction: "input" }, route, provider, "input");
      if (event.tokensOut)
        tokenCounts.add(event.tokensOut, { route, provider, direction: "output" }, route, provider, "output");
      if (event.cachedInputTokens)
        cachedTokenCounts.add(event.cachedInputTokens, { route, provider, cache: "read" }, route, provider, "read");
      if (event.cacheCreationInputTokens)
        cachedTokenCounts.add(
          event.cacheCreationInputTokens,
          { route, provider, cache: "write" },
          route,
          provider,
          "write",
        );
      if (event.costUsd) {
        const agent = event.agent === undefined ? "none" : known(agents, event.agent);
        spendCounts.add(event.costUsd, { route, agent }, route, agent);
      }
      if (event.decision === "rate-limited") rateLimited.inc({ route });
      const guard = guardOf(event.rule);
      if (guard) guardHits.inc({ guard, action: decision });
      else if (event.redactions && Object.keys(event.redactions).length > 0)
        guardHits.inc({ guard: "pii", action: "redact" });
    },
    observeUpstream(kind, target, provider, seconds, outcome) {
      const targetLabel = kind === "mcp" ? known(upstreams, target) : known(routes, target);
      const providerLabel = known(providers, provider);
      upstreamLatency.observe(
        seconds,
        { kind, target: targetLabel, provider: providerLabel, outcome },
        kind,
        targetLabel,
        providerLabel,
        outcome,
      );
    },
    setMcpUpstreamHealth: (upstream, up) => upstreamUp.set({ upstream: known(upstreams, upstream) }, up ? 1 : 0),
    watchMcpSessions(source) {
      mcpSessions = source;
    },
    render: () => registry.metrics(),
  };
}

/**
 * Series per label set, found through one small map per label: no key string is built, and no label
 * object hashed and validated, per observation (what prom-client's labelled inc/observe do on every call).
 */
class SeriesByLabels<L extends string, S extends { readonly labels: Readonly<Record<L, string>> }> {
  private readonly root = new Map<string, unknown>();
  readonly all: S[] = [];

  constructor(private readonly create: (labels: Readonly<Record<L, string>>) => S) {}

  /** The series of `labels`, whose values are also given in label order as `path`. */
  find(labels: Readonly<Record<L, string>>, path: readonly string[]): S {
    let node: Map<string, unknown> = this.root;
    const last = path.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(path[i] as string) as Map<string, unknown> | undefined;
      if (!next) {
        next = new Map();
        node.set(path[i] as string, next);
      }
      node = next;
    }
    let series = node.get(path[last] as string) as S | undefined;
    if (!series) {
      series = this.create({ ...labels });
      this.all.push(series);
      node.set(path[last] as string, series);
    }
    return series;
  }
}

/** Cumulative counts per label set, written into a prom-client counter when it is collected. */
class CountsByLabels<L extends string> {
  private readonly series = new SeriesByLabels<L, { readonly labels: Readonly<Record<L, string>>; value: number }>(
    (labels) => ({ labels, value: 0 }),
  );

  add(value: number, labels: Readonly<Record<L, string>>, ...path: string[]): void {
    this.series.find(labels, path).value += value;
  }

  collectInto(counter: Counter<L>): void {
    counter.reset();
    for (const { labels, value } of this.series.all) counter.inc(labels as Partial<Record<L, string | number>>, value);
  }
}

interface HistogramSeries<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  /** Observations per bucket (not cumulative), the last one above every bound. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram kept as numbers per label set and registered in the prom-client registry as a metric of
 * its own: the registry renders it like prom-client's Histogram (`_bucket` with `le`, `_sum`, `_count`).
 */
class HistogramByLabels<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series: SeriesByLabels<L, HistogramSeries<L>>;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.series = new SeriesByLabels((labels) => ({
      labels,
      buckets: new Array<number>(bounds.length + 1).fill(0),
      sum: 0,
      count: 0,
    }));
  }

  observe(value: number, labels: Readonly<Record<L, string>>, ...path: string[]): void {
    const series = this.series.find(labels, path);
    let bucket = 0;
    while (bucket < this.bounds.length && value > (this.bounds[bucket] as number)) bucket++;
    (series.buckets[bucket] as number)++;
    series.sum += value;
    series.count++;
  }

  /** What the registry renders (prom-client's metric shape). */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { metricName: string; labels: Record<string, string | number>; value: number }[];
  }> {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, buckets, sum, count } of this.series.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += buckets[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series.all) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Answers every URL equal to `/console` or under `/console/` (the operator console); absent, they are 404. */
  readonly console?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

const isConsoleUrl = (url: string | undefined) =>
  url !== undefined && (url === "/console" || url.startsWith("/console/") || url.startsWith("/console?"));

/** Serves `GET /metrics` (and `/healthz`, and the console when given) on the admin port, apart from traffic. */
export async function serveMetrics(metrics: GatewayMetrics, options: MetricsServerOptions): Promise<MetricsServer> {
  const consoleHandler = options.console;
  const server: Server = createServer((req, res) => {
    if (consoleHandler && isConsoleUrl(req.url)) {
      consoleHandler(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    } else if (req.method === "GET" && req.url === "/metrics") {
      metrics.render().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.method === "GET" && req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
