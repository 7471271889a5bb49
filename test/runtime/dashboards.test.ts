/** The dashboard and the alerts query only metrics the gateway registers, and show every counter and histogram it has. */
import { describe, expect, it } from "vitest";
import {
  ALERT_THRESHOLDS,
  grafanaDashboard,
  prometheusRule,
  type GrafanaPanel,
} from "../../runtime/observability/dashboards.js";
import { createGatewayMetrics } from "../../runtime/observability/metrics.js";

/** Families registered but deliberately without a panel, with the reason. */
const LEFT_OUT: Readonly<Record<string, string>> = {
  tollgate_process_cpu_user_seconds_total: "the Process CPU panel shows user + system (process_cpu_seconds_total)",
  tollgate_process_cpu_system_seconds_total: "the Process CPU panel shows user + system (process_cpu_seconds_total)",
};

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** Metric names in a PromQL expression: identifiers outside strings, label matchers, grouping lists and ranges that are no function call or keyword. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\$\{?\w+\}?/g, "")
    .replace(/(^|[^\w:])\d[\w.]*/g, "$1");
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = bare.slice((m.index ?? 0) + m[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** Every series name the gateway's registry exposes, and its counter and histogram families. */
async function registered(): Promise<{ series: Set<string>; families: Map<string, string> }> {
  const metrics = createGatewayMetrics({ defaultMetrics: true });
  const json = await metrics.registry.getMetricsAsJSON();
  const series = new Set<string>();
  const families = new Map<string, string>();
  for (const m of json) {
    const type = String(m.type);
    series.add(m.name);
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) series.add(`${m.name}${s}`);
    if (type === "summary") for (const s of ["_sum", "_count"]) series.add(`${m.name}${s}`);
    families.set(m.name, type);
  }
  return { series, families };
}

function familyOf(name: string, families: Map<string, string>): string {
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return families.has(base) ? base : name;
}

function panelsOf(panels: readonly GrafanaPanel[]): GrafanaPanel[] {
  return panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** Every PromQL expression in the dashboard (panels, annotations) and the rules, with where it is. */
function expressions(): { where: string; expr: string }[] {
  const dashboard = grafanaDashboard();
  return [
    ...panelsOf(dashboard.panels).flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })),
    ),
    ...dashboard.annotations.list.map((a) => ({ where: `annotation "${String(a.name)}"`, expr: String(a.expr) })),
    ...prometheusRule().spec.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
  ];
}

describe("metricNamesIn", () => {
  it("finds the metric names of an expression, not its functions, labels, keywords or variables", () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le, target) (rate(a_bucket{kind="mcp",x=~"by|b"}[$__rate_interval]))) / on (x) b > 3 * c offset 1h and d',
      ),
    ).toEqual(["a_bucket", "b", "c", "d"]);
  });
});

describe("observability assets", () => {
  it("query only metric names the gateway registers", async () => {
    const { series } = await registered();
    const unknown = expressions().flatMap(({ where, expr }) =>
      metricNamesIn(expr)
        .filter((name) => !series.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
    expect(expressions().every(({ expr }) => metricNamesIn(expr).length > 0)).toBe(true);
  });

  it("show every registered counter and histogram in a panel, unless left out with a reason", async () => {
    const { families } = await registered();
    const dashboard = grafanaDashboard();
    const shown = new Set(
      panelsOf(dashboard.panels)
        .flatMap((p) => p.targets ?? [])
        .flatMap((t) => metricNamesIn(t.expr))
        .map((name) => familyOf(name, families)),
    );
    const missing = [...families]
      .filter(([name, type]) => (type === "counter" || type === "histogram") && !shown.has(name) && !LEFT_OUT[name])
      .map(([name]) => name);
    expect(missing).toEqual([]);
    for (const name of Object.keys(LEFT_OUT)) expect(families.has(name), `${name} is still registered`).toBe(true);
  });

  it("is a Grafana dashboard of schemaVersion 39 or later whose every query uses the datasource variable", () => {
    const dashboard = grafanaDashboard();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    );
    const queries = panelsOf(dashboard.panels).filter((p) => p.type !== "row");
    expect(queries.length).toBeGreaterThan(10);
    for (const p of queries) {
      expect(p.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const t of p.targets ?? []) expect(t.datasource.uid).toBe("${datasource}");
    }
    const ids = panelsOf(dashboard.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("has the panels an operator looks for", () => {
    const titles = panelsOf(grafanaDashboard().panels).map((p) => p.title);
    for (const title of [
      "Requests by route",
      "Error rate by route",
      "Decisions",
      "Denied rate",
      "MCP upstream latency p50 / p99",
      "MCP sessions and stdio processes",
      "Cached input tokens",
      "MCP upstream health",
      "Rate-limit saturation (429 share)",
      "Bundle reloads",
      "Process CPU",
      "Process RSS",
    ])
      expect(titles).toContain(title);
  });

  it("alert on errors, denial spikes, a down upstream, limit saturation and reload failures, each with severity and runbook", () => {
    const rule = prometheusRule();
    expect(rule).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule" });
    const alerts = Object.fromEntries(rule.spec.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    expect(Object.keys(alerts).sort()).toEqual([
      "TollgateBundleReloadFailed",
      "TollgateDeniedRateSpike",
      "TollgateHighErrorRate",
      "TollgateMcpUpstreamDown",
      "TollgateRateLimitSaturation",
    ]);
    expect(alerts.TollgateHighErrorRate).toMatchObject({ for: "5m", labels: { severity: "critical" } });
    expect(alerts.TollgateHighErrorRate!.expr).toContain(`> ${ALERT_THRESHOLDS.errorRatio}`);
    expect(alerts.TollgateDeniedRateSpike!.expr).toMatch(/\[5m\].*> 3 \* .*\[1h\]/);
    expect(alerts.TollgateMcpUpstreamDown).toMatchObject({ for: "2m", labels: { severity: "critical" } });
    expect(alerts.TollgateMcpUpstreamDown!.expr).toContain("tollgate_mcp_upstream_up");
    expect(alerts.TollgateRateLimitSaturation!.expr).toContain("tollgate_rate_limit_rejections_total");
    expect(alerts.TollgateBundleReloadFailed!.expr).toContain('tollgate_bundle_reloads_total{result="failed"}');
    for (const r of Object.values(alerts)) {
      expect(["critical", "warning"]).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.runbook).toContain("docs/troubleshooting.md");
    }
  });
});
