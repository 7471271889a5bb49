/** GatewayObservability: the dashboard ConfigMap for the Grafana sidecar and the PrometheusRule, from the CLI's files. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { TerraformStack, Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { GatewayObservability } from "../../constructs/index.js";
import { grafanaDashboard, prometheusRule } from "../../runtime/observability/dashboards.js";
import { dashboardsCommand } from "../../runtime/cli/dashboards.js";
import { smallPlatform } from "./fixtures.js";
import { resources, single, synthJson, testAppDir } from "./synth-helpers.js";

const assetsDir = mkdtempSync(join(tmpdir(), "tollgate-observability-"));
afterAll(() => rmSync(assetsDir, { recursive: true, force: true }));

async function writeAssets(dir: string): Promise<void> {
  const log = console.log;
  console.log = () => {};
  try {
    expect(await dashboardsCommand(["--out", dir])).toBe(0);
  } finally {
    console.log = log;
  }
}

type ConfigMapJson = {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  data: Record<string, string>;
};
type ManifestJson = {
  manifest: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: ReturnType<typeof prometheusRule>["spec"];
  };
  depends_on?: string[];
};

/** Terraform reads `$${` as a literal `${`: what the cluster receives. */
const unescape = (text: string) => text.replaceAll("$${", () => "${").replaceAll("%%{", () => "%{");

describe("GatewayObservability", () => {
  it("puts the dashboard in a ConfigMap for the Grafana sidecar, the alerts in a PrometheusRule and a ServiceMonitor on the metrics port next to the gateway", async () => {
    await writeAssets(assetsDir);
    const { stack, gateway } = smallPlatform();
    new GatewayObservability(stack, "Observability", {
      deployment: gateway,
      assetsDir,
      prometheusLabels: { release: "kps" },
    });
    const tf = synthJson(stack);

    const dashboard = resources(tf, "kubernetes_config_map").find((c) =>
      (c as ConfigMapJson).metadata.name.endsWith("-dashboard"),
    ) as ConfigMapJson;
    expect(dashboard.metadata).toMatchObject({
      name: "gateway-dashboard",
      namespace: gateway.namespace,
      labels: { grafana_dashboard: "1", "app.kubernetes.io/instance": "gateway" },
    });
    const text = dashboard.data["gateway.json"] as string;
    expect(text).toContain('"uid": "$${datasource}"');
    expect(JSON.parse(unescape(text))).toEqual(grafanaDashboard());

    const manifests = resources(tf, "kubernetes_manifest") as ManifestJson[];
    expect(manifests.map((m) => m.manifest.kind).sort()).toEqual(["PrometheusRule", "ServiceMonitor"]);
    const rule = manifests.find((m) => m.manifest.kind === "PrometheusRule")!;
    expect(rule.manifest).toMatchObject({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: {
        name: "gateway-alerts",
        namespace: gateway.namespace,
        labels: {
          release: "kps",
          "app.kubernetes.io/name": "tollgate-gateway",
          "app.kubernetes.io/instance": "gateway",
        },
      },
    });
    expect(rule.manifest.spec).toEqual(prometheusRule().spec);
    expect(rule.depends_on?.[0]).toMatch(/^kubernetes_config_map\./);

    const monitor = manifests.find((m) => m.manifest.kind === "ServiceMonitor")!.manifest as unknown as {
      metadata: { namespace: string; labels: Record<string, string> };
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    const service = single(tf, "kubernetes_service_v1") as {
      metadata: { labels: Record<string, string> };
      spec: { port: { name: string }[] };
    };
    expect(monitor.metadata).toMatchObject({ namespace: gateway.namespace, labels: { release: "kps" } });
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.port.map((p) => p.name)).toContain(monitor.spec.endpoints[0]!.port);
    expect(monitor.spec.endpoints[0]!.path).toBe("/metrics");
  });

  it("goes into a namespace of your choice with your labels, without a ServiceMonitor, when there is no deployment", async () => {
    await writeAssets(assetsDir);
    const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "monitoring");
    new KubernetesProvider(stack, "kubernetes", {});
    new GatewayObservability(stack, "Observability", {
      namespace: "monitoring",
      labels: { team: "platform" },
      assetsDir,
    });
    const tf = synthJson(stack);
    expect(single(tf, "kubernetes_config_map")).toMatchObject({
      metadata: {
        name: "tollgate-gateway-dashboard",
        namespace: "monitoring",
        labels: { team: "platform", grafana_dashboard: "1" },
      },
    });
    const manifest = single(tf, "kubernetes_manifest") as ManifestJson;
    expect(manifest.manifest.kind).toBe("PrometheusRule");
    expect(manifest.manifest.metadata).toMatchObject({
      name: "tollgate-gateway-alerts",
      namespace: "monitoring",
      labels: { team: "platform" },
    });
  });

  it("without the CLI's files, fails naming assetsDir and the command that writes them", () => {
    const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "missing");
    const missing = join(assetsDir, "nowhere");
    expect(
      () => new GatewayObservability(stack, "Observability", { namespace: "monitoring", assetsDir: missing }),
    ).toThrow(
      `GatewayObservability.assetsDir: cannot read ${join(missing, "grafana-dashboard.json")} (ENOENT) — run \`npx tollgate dashboards --out ${missing}\``,
    );
  });

  it("refuses a rules file that is not a PrometheusRule", async () => {
    const dir = join(assetsDir, "wrong");
    await writeAssets(dir);
    writeFileSync(join(dir, "prometheus-rules.yaml"), "apiVersion: v1\nkind: ConfigMap\n");
    const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "wrong");
    expect(() => new GatewayObservability(stack, "Observability", { namespace: "monitoring", assetsDir: dir })).toThrow(
      /prometheus-rules\.yaml is not a PrometheusRule .*got "ConfigMap"/,
    );
  });
});
