/**
 * Observability assets for a deployed gateway: a Grafana dashboard and a PrometheusRule with its alerts, both
 * written against the metric names `metrics.ts` registers (test/runtime/dashboards.test.ts reads a real
 * registry and fails on a name used here that the gateway does not register, and on a counter or histogram
 * that no panel shows).
 *
 * Pure data, no I/O: `tollgate dashboards` writes it to files, and the `GatewayObservability` construct reads
 * those files into a ConfigMap (Grafana sidecar) and a PrometheusRule.
 */

/** Metric families the assets query, as `metrics.ts` registers them (prefix `tollgate_`, default metrics included). */
const M = {
  requests: "tollgate_requests_total",
  tokens: "tollgate_tokens_total",
  cachedInputTokens: "tollgate_cached_input_tokens_total",
  spend: "tollgate_spend_usd_total",
  guardHits: "tollgate_guard_hits_total",
  rateLimited: "tollgate_rate_limit_rejections_total",
  upstreamLatency: "tollgate_upstream_latency_seconds",
  mcpUpstreamUp: "tollgate_mcp_upstream_up",
  reloads: "tollgate_bundle_reloads_total",
  bundleInfo: "tollgate_bundle_info",
  mcpSessions: "tollgate_mcp_sessions",
  stdioProcesses: "tollgate_mcp_stdio_processes",
  stdioProcessLimit: "tollgate_mcp_stdio_processes_limit",
  cpu: "tollgate_process_cpu_seconds_total",
  rss: "tollgate_process_resident_memory_bytes",
  eventLoopLag: "tollgate_nodejs_eventloop_lag_p99_seconds",
  gc: "tollgate_nodejs_gc_duration_seconds",
} as const;

/** Decisions that are answers to a request: a failover is an extra event inside one request. */
const ANSWERED = `decision!="failover"`;
/** Refusals by policy (scope, deny rule, always-blocked tool, guard), apart from rate limits and errors. */
const DENIED = `decision=~"deny|block"`;

/** Alert thresholds: what the rules fire on and what docs/observability.md documents. */
export const ALERT_THRESHOLDS = {
  /** Share of answered requests of a route that end in `error`, sustained for 5 minutes. */
  errorRatio: 0.05,
  /** Requests per second a route needs before its error share means anything (about 6 in 5 minutes). */
  errorMinRequestRate: 0.02,
  /** Denials in the last 5 minutes, as a multiple of the last hour's rate. */
  deniedSpikeFactor: 3,
  /** Denials in the last 5 minutes needed before a spike is one. */
  deniedSpikeMinCount: 10,
  /** Share of a route's requests answered 429 by a rate limit, sustained for 10 minutes. */
  limitSaturationRatio: 0.1,
} as const;

/** Where the alerts' runbook text sends an operator. */
const RUNBOOK = "docs/troubleshooting.md";

// ---------------------------------------------------------------- Grafana

export interface GrafanaTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: GrafanaDatasourceRef;
}

export interface GrafanaDatasourceRef {
  readonly type: "prometheus";
  readonly uid: "${datasource}";
}

export interface GrafanaPanel {
  readonly id: number;
  readonly type: "timeseries" | "stat" | "row";
  readonly title: string;
  readonly description?: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: GrafanaDatasourceRef;
  readonly targets?: readonly GrafanaTarget[];
  readonly fieldConfig?: { readonly defaults: Record<string, unknown>; readonly overrides: readonly unknown[] };
  readonly options?: Record<string, unknown>;
  readonly collapsed?: boolean;
  readonly panels?: readonly GrafanaPanel[];
}

export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly schemaVersion: number;
  readonly version: number;
  readonly editable: boolean;
  readonly graphTooltip: number;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly timezone: string;
  readonly templating: { readonly list: readonly Record<string, unknown>[] };
  readonly annotations: { readonly list: readonly Record<string, unknown>[] };
  readonly panels: readonly GrafanaPanel[];
}

const DATASOURCE: GrafanaDatasourceRef = { type: "prometheus", uid: "${datasource}" };

type Unit = "reqps" | "percentunit" | "s" | "short" | "bytes" | "ops" | "currencyUSD";

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: Unit;
  /** Expression → legend. */
  readonly queries: readonly (readonly [expr: string, legend: string])[];
  readonly type?: "timeseries" | "stat";
  readonly stack?: boolean;
  readonly max?: number;
}

/** The dashboard's sections, in order; each panel takes half the width. */
const SECTIONS: readonly (readonly [title: string, panels: readonly PanelSpec[]])[] = [
  [
    "Traffic",
    [
      {
        title: "Requests by route",
        description: "Answered requests per second, by route (LLM route id, or `mcp`) and kind.",
        unit: "reqps",
        queries: [
          [`sum by (route, kind) (rate(${M.requests}{${ANSWERED}}[$__rate_interval]))`, "{{route}} ({{kind}})"],
        ],
      },
      {
        title: "Error rate by route",
        description: `Share of answered requests ending in \`error\` (no provider answered, upstream failure, store down). Alert above ${pct(ALERT_THRESHOLDS.errorRatio)}.`,
        unit: "percentunit",
        queries: [
          [
            `sum by (route) (rate(${M.requests}{decision="error"}[$__rate_interval])) / sum by (route) (rate(${M.requests}{${ANSWERED}}[$__rate_interval]))`,
            "{{route}}",
          ],
        ],
      },
    ],
  ],
  [
    "Policy",
    [
      {
        title: "Decisions",
        description: "Every decision per second: allow, deny, block, redact, rate-limited, failover, cancelled, error.",
        unit: "ops",
        stack: true,
        queries: [[`sum by (decision) (rate(${M.requests}[$__rate_interval]))`, "{{decision}}"]],
      },
      {
        title: "Denied rate",
        description:
          "Share of answered requests refused by policy (deny: scope or rule; block: always-blocked tool or guard), by kind. A spike is an attack or a policy change that broke an agent.",
        unit: "percentunit",
        queries: [
          [
            `sum by (kind) (rate(${M.requests}{${DENIED}}[$__rate_interval])) / sum by (kind) (rate(${M.requests}{${ANSWERED}}[$__rate_interval]))`,
            "{{kind}}",
          ],
        ],
      },
      {
        title: "Guard interventions",
        description: "Guard hits by guard (pii, prompt-injection, credential-leak) and action.",
        unit: "ops",
        stack: true,
        queries: [[`sum by (guard, action) (rate(${M.guardHits}[$__rate_interval]))`, "{{guard}} {{action}}"]],
      },
    ],
  ],
  [
    "MCP",
    [
      {
        title: "MCP calls by decision",
        description: "MCP tool, prompt and resource calls and lists per second, by decision.",
        unit: "ops",
        stack: true,
        queries: [[`sum by (decision) (rate(${M.requests}{kind="mcp"}[$__rate_interval]))`, "{{decision}}"]],
      },
      {
        title: "MCP upstream latency p50 / p99",
        description: "Latency of calls to each MCP upstream, as the gateway measures them.",
        unit: "s",
        queries: [
          [quantile(0.5, `kind="mcp"`, "target"), "p50 {{target}}"],
          [quantile(0.99, `kind="mcp"`, "target"), "p99 {{target}}"],
        ],
      },
      {
        title: "MCP sessions and stdio processes",
        description:
          "Sessions each replica holds (opened here or resumed from the session store; stateless clients hold none) and the stdio upstream processes it runs against its limit (new sessions get 503 past it).",
        unit: "short",
        queries: [
          [`sum by (instance) (${M.mcpSessions})`, "sessions {{instance}}"],
          [`sum by (instance) (${M.stdioProcesses})`, "stdio processes {{instance}}"],
          [`max by (instance) (${M.stdioProcessLimit})`, "stdio limit {{instance}}"],
        ],
      },
    ],
  ],
  [
    "LLM",
    [
      {
        title: "LLM tokens by route and direction",
        description: "Tokens billed per second, input and output.",
        unit: "short",
        stack: true,
        queries: [[`sum by (route, direction) (rate(${M.tokens}[$__rate_interval]))`, "{{route}} {{direction}}"]],
      },
      {
        title: "Cached input tokens",
        description:
          "Input tokens the provider read from (read) or wrote to (write) its prompt cache; part of the input tokens, never added to them. The ratio is the share of input served from cache.",
        unit: "short",
        queries: [
          [`sum by (route, cache) (rate(${M.cachedInputTokens}[$__rate_interval]))`, "{{route}} {{cache}}"],
          [
            `sum by (route) (rate(${M.cachedInputTokens}{cache="read"}[$__rate_interval])) / sum by (route) (rate(${M.tokens}{direction="input"}[$__rate_interval]))`,
            "{{route}} read share",
          ],
        ],
      },
      {
        title: "LLM spend by route and agent",
        description:
          "What answers cost in US dollars over the last hour (provider usage at the bundle's prices; agent none: a caller without an agent). Per-user spend is in the audit events (costUsd).",
        unit: "currencyUSD",
        stack: true,
        queries: [[`sum by (route, agent) (increase(${M.spend}[1h]))`, "{{route}} {{agent}}"]],
      },
      {
        title: "LLM provider latency p50 / p99",
        description: "Latency of calls to LLM providers, by provider.",
        unit: "s",
        queries: [
          [quantile(0.5, `kind="llm"`, "provider"), "p50 {{provider}}"],
          [quantile(0.99, `kind="llm"`, "provider"), "p99 {{provider}}"],
        ],
      },
    ],
  ],
  [
    "Upstreams",
    [
      {
        title: "MCP upstream health",
        description:
          "1 when at least one replica reaches the MCP upstream (initialize and list succeed). Alert at 0 for 2 minutes.",
        unit: "short",
        type: "stat",
        max: 1,
        queries: [[`max by (upstream) (${M.mcpUpstreamUp})`, "{{upstream}}"]],
      },
      {
        title: "Upstream errors and failovers",
        description: "Failed upstream calls per second by kind and provider, and LLM failovers to the next provider.",
        unit: "ops",
        queries: [
          [
            `sum by (kind, provider) (rate(${M.upstreamLatency}_count{outcome="error"}[$__rate_interval]))`,
            "errors {{kind}} {{provider}}",
          ],
          [`sum by (route) (rate(${M.requests}{decision="failover"}[$__rate_interval]))`, "failover {{route}}"],
        ],
      },
    ],
  ],
  [
    "Limits",
    [
      {
        title: "Rate-limit saturation (429 share)",
        description: `Share of each route's requests refused by a rate limit (429 with Retry-After). Alert above ${pct(ALERT_THRESHOLDS.limitSaturationRatio)} for 10 minutes.`,
        unit: "percentunit",
        queries: [
          [
            `sum by (route) (rate(${M.rateLimited}[$__rate_interval])) / sum by (route) (rate(${M.requests}{${ANSWERED}}[$__rate_interval]))`,
            "{{route}}",
          ],
        ],
      },
    ],
  ],
  [
    "Gateway",
    [
      {
        title: "Bundle reloads",
        description:
          "Bundle loads by result. A failed reload leaves the previous bundle serving; the log line `cannot load the gateway bundle` names the field.",
        unit: "short",
        queries: [
          [`sum by (result) (increase(${M.reloads}[$__rate_interval]))`, "{{result}}"],
          [`count by (digest) (${M.bundleInfo})`, "replicas on {{digest}}"],
        ],
      },
      {
        title: "Process CPU",
        description: "CPU seconds per second (cores) used by each replica.",
        unit: "short",
        queries: [[`sum by (instance) (rate(${M.cpu}[$__rate_interval]))`, "{{instance}}"]],
      },
      {
        title: "Process RSS",
        description: "Resident memory of each replica; the pod's memory limit is where it is killed.",
        unit: "bytes",
        queries: [[`sum by (instance) (${M.rss})`, "{{instance}}"]],
      },
      {
        title: "Event loop lag p99 and GC time",
        description: "A lag that grows with traffic is a replica at its CPU limit: scale out before requests queue.",
        unit: "s",
        queries: [
          [`max by (instance) (${M.eventLoopLag})`, "lag p99 {{instance}}"],
          [`sum by (instance) (rate(${M.gc}_sum[$__rate_interval]))`, "gc s/s {{instance}}"],
        ],
      },
    ],
  ],
];

function quantile(q: number, selector: string, by: string): string {
  return `histogram_quantile(${q}, sum by (le, ${by}) (rate(${M.upstreamLatency}_bucket{${selector}}[$__rate_interval])))`;
}

function pct(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** The Grafana dashboard (schemaVersion 39) over a Prometheus datasource chosen by the `datasource` variable. */
export function grafanaDashboard(): GrafanaDashboard {
  const panels: GrafanaPanel[] = [];
  let id = 1;
  let y = 0;
  for (const [section, specs] of SECTIONS) {
    panels.push({
      id: id++,
      type: "row",
      title: section,
      collapsed: false,
      gridPos: { x: 0, y, w: 24, h: 1 },
      panels: [],
    });
    y += 1;
    specs.forEach((spec, i) => {
      panels.push(panel(id++, spec, { x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8, w: 12, h: 8 }));
    });
    y += Math.ceil(specs.length / 2) * 8;
  }
  return {
    uid: "tollgate-gateway",
    title: "Tollgate gateway",
    description:
      "Requests, policy decisions, MCP and LLM traffic, upstream health, limits and reloads of the Tollgate gateway.",
    tags: ["tollgate"],
    schemaVersion: 39,
    version: 1,
    editable: true,
    graphTooltip: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    timezone: "browser",
    templating: {
      list: [
        {
          name: "datasource",
          label: "Prometheus",
          type: "datasource",
          query: "prometheus",
          current: {},
          hide: 0,
          refresh: 1,
          regex: "",
        },
      ],
    },
    annotations: {
      list: [
        {
          name: "Bundle reloads",
          datasource: DATASOURCE,
          enable: true,
          iconColor: "blue",
          expr: `changes(${M.reloads}{result="ok"}[1m]) > 0`,
          titleFormat: "bundle reloaded",
        },
      ],
    },
    panels,
  };
}

function panel(id: number, spec: PanelSpec, gridPos: GrafanaPanel["gridPos"]): GrafanaPanel {
  const defaults: Record<string, unknown> = {
    unit: spec.unit,
    ...(spec.max !== undefined ? { max: spec.max, min: 0 } : {}),
  };
  if (spec.type !== "stat")
    defaults.custom = {
      drawStyle: "line",
      fillOpacity: spec.stack ? 30 : 10,
      stacking: { mode: spec.stack ? "normal" : "none" },
    };
  return {
    id,
    type: spec.type ?? "timeseries",
    title: spec.title,
    description: spec.description,
    gridPos,
    datasource: DATASOURCE,
    targets: spec.queries.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      expr,
      legendFormat,
      datasource: DATASOURCE,
    })),
    fieldConfig: { defaults, overrides: [] },
    options:
      spec.type === "stat"
        ? {
            colorMode: "background",
            graphMode: "none",
            reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
          }
        : {
            legend: { displayMode: "list", placement: "bottom", showLegend: true },
            tooltip: { mode: "multi", sort: "desc" },
          },
  };
}

// ---------------------------------------------------------------- PrometheusRule

export type AlertSeverity = "critical" | "warning";

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: AlertSeverity; readonly component: "tollgate" };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook: string };
}

export interface PrometheusRule {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PrometheusRule";
  readonly metadata: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: { readonly groups: readonly { readonly name: string; readonly rules: readonly AlertRule[] }[] };
}

function alert(
  name: string,
  severity: AlertSeverity,
  forDuration: string,
  expr: string,
  summary: string,
  description: string,
  steps: string,
): AlertRule {
  return {
    alert: name,
    expr,
    for: forDuration,
    labels: { severity, component: "tollgate" },
    annotations: { summary, description, runbook: `${steps} More: ${RUNBOOK}.` },
  };
}

const answeredRate = (by: string, window: string) => `sum by (${by}) (rate(${M.requests}{${ANSWERED}}[${window}]))`;
const deniedRate = (window: string) => `sum(rate(${M.requests}{${DENIED}}[${window}]))`;

/** The gateway's alerts, as a PrometheusRule for the Prometheus Operator. */
export function prometheusRule(): PrometheusRule {
  const t = ALERT_THRESHOLDS;
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "tollgate-gateway", labels: { "app.kubernetes.io/name": "tollgate-gateway" } },
    spec: {
      groups: [
        {
          name: "tollgate-gateway",
          rules: [
            alert(
              "TollgateHighErrorRate",
              "critical",
              "5m",
              `(sum by (route) (rate(${M.requests}{decision="error"}[5m])) / ${answeredRate("route", "5m")} > ${t.errorRatio}) and ${answeredRate("route", "5m")} > ${t.errorMinRequestRate}`,
              "Tollgate route {{ $labels.route }}: {{ $value | humanizePercentage }} of requests end in error",
              `More than ${pct(t.errorRatio)} of the answered requests of route {{ $labels.route }} ended in an error for 5 minutes.`,
              "Read the audit lines with decision=error for the route: `no provider answered` or `every provider failed` is the LLM providers (check their status and the gateway's egress), a rate-limit store error is Redis (check the gateway-redis pod and REDIS_URL), an MCP error names the upstream.",
            ),
            alert(
              "TollgateDeniedRateSpike",
              "warning",
              "5m",
              `${deniedRate("5m")} > ${t.deniedSpikeFactor} * ${deniedRate("1h")} and sum(increase(${M.requests}{${DENIED}}[5m])) >= ${t.deniedSpikeMinCount}`,
              `Tollgate denials are {{ $value | humanize }} per second, over ${t.deniedSpikeFactor} times the last hour's rate`,
              `Requests refused by policy (deny or block) in the last 5 minutes run at more than ${t.deniedSpikeFactor} times the rate of the last hour.`,
              "Group the audit lines with decision=deny or block by rule, client and principal. One client hitting `guard: prompt-injection` or always-blocked tools is an agent under attack or misbehaving: revoke its client. Denials across every client right after a deploy are a bundle that dropped a grant: run `tollgate diff` between the two bundles.",
            ),
            alert(
              "TollgateMcpUpstreamDown",
              "critical",
              "2m",
              `max by (upstream) (${M.mcpUpstreamUp}) == 0`,
              "Tollgate MCP upstream {{ $labels.upstream }} is unreachable",
              "No gateway replica has reached MCP upstream {{ $labels.upstream }} (initialize and list) for 2 minutes; its tools are missing from tools/list.",
              "Check the upstream's own health, the gateway's NetworkPolicy egress to its port, and its credentials (a 401 from the upstream is an expired secret or a token exchange refused). `/readyz` on a replica names the failing upstream.",
            ),
            alert(
              "TollgateRateLimitSaturation",
              "warning",
              "10m",
              `sum by (route) (rate(${M.rateLimited}[5m])) / ${answeredRate("route", "5m")} > ${t.limitSaturationRatio}`,
              "Tollgate route {{ $labels.route }}: {{ $value | humanizePercentage }} of requests are rate-limited",
              `More than ${pct(t.limitSaturationRatio)} of the requests of route {{ $labels.route }} got 429 for 10 minutes.`,
              "Find the principals hitting the limit in the audit lines (decision=rate-limited). One principal: a runaway agent, leave the limit. Many: the budget is too small for the traffic; raise the route's limits in the stack and deploy.",
            ),
            alert(
              "TollgateBundleReloadFailed",
              "warning",
              "0m",
              `increase(${M.reloads}{result="failed"}[15m]) > 0`,
              "Tollgate could not load a new gateway bundle",
              "A bundle reload failed in the last 15 minutes; the replica keeps serving the previous bundle, so the new policy is not in force.",
              "The gateway log line `cannot load the gateway bundle` names the field and the fix; validate the ConfigMap's bundle with `npx tollgate validate <bundle> --values values.json --runtime`.",
            ),
          ],
        },
      ],
    },
  };
}
