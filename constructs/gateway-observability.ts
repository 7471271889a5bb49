import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigMap } from "@cdktf/provider-kubernetes/lib/config-map/index.js";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest/index.js";
import { Construct } from "constructs";
import { parse } from "yaml";
import type { GatewayDeployment } from "./gateway-deployment.js";
import { escapeTerraformTemplate } from "./terraform-text.js";

/** File names `tollgate dashboards --out <dir>` writes. */
const DASHBOARD_FILE = "grafana-dashboard.json";
const RULES_FILE = "prometheus-rules.yaml";

/** Where the dashboard and the alerts go: next to a gateway deployment, or into a namespace of your choice. */
export type ObservabilityTarget =
  | {
      /** The gateway deployment: its namespace, its name and its labels. */
      readonly deployment: GatewayDeployment;
    }
  | {
      /** Namespace of the ConfigMap and the PrometheusRule (it must exist). */
      readonly namespace: string;
      /**
       * Prefix of the resource names.
       * @default "tollgate-gateway"
       */
      readonly name?: string;
      /**
       * Labels on both resources.
       * @default { "app.kubernetes.io/name": "tollgate-gateway" }
       */
      readonly labels?: Readonly<Record<string, string>>;
    };

export type GatewayObservabilityProps = ObservabilityTarget & {
  /**
   * The directory `npx tollgate dashboards --out <dir>` wrote (`grafana-dashboard.json`,
   * `prometheus-rules.yaml`), relative to the directory synth runs in. The assets are built from the metric
   * names the gateway registers, so they come from the CLI of the Tollgate version the gateway runs.
   */
  readonly assetsDir: string;
  /**
   * Extra labels on the PrometheusRule and the ServiceMonitor, for a Prometheus Operator whose `ruleSelector`
   * and `serviceMonitorSelector` require them (kube-prometheus-stack selects `release: <helm release>`).
   * @default no extra labels
   */
  readonly prometheusLabels?: Readonly<Record<string, string>>;
};

/**
 * The gateway's Grafana dashboard as a ConfigMap labelled `grafana_dashboard: "1"` (the Grafana sidecar
 * loads it), its alerts as a `kubernetes_manifest` PrometheusRule and, next to a deployment, a ServiceMonitor
 * that scrapes its `metrics` port. The Prometheus Operator's CRDs must be installed before plan:
 * `kubernetes_manifest` reads their schema.
 */
export class GatewayObservability extends Construct {
  /** The ConfigMap holding the dashboard JSON. */
  public readonly dashboard: ConfigMap;
  /** The PrometheusRule. */
  public readonly rules: Manifest;
  /** The ServiceMonitor of the deployment's Service; none when the target is a namespace. */
  public readonly serviceMonitor: Manifest | undefined;

  constructor(scope: Construct, id: string, props: GatewayObservabilityProps) {
    super(scope, id);
    const assets = readAssets(props.assetsDir);
    const target = targetOf(props);

    this.dashboard = new ConfigMap(this, "Dashboard", {
      metadata: {
        name: `${target.name}-dashboard`,
        namespace: target.namespace,
        labels: { ...target.labels, grafana_dashboard: "1" },
      },
      data: { [`${target.name}.json`]: escapeTerraformTemplate(assets.dashboardText) },
      ...(target.dependsOn ? { dependsOn: target.dependsOn } : {}),
    });

    const rules = escapeStrings(assets.rules) as typeof assets.rules;
    this.rules = new Manifest(this, "Rules", {
      manifest: {
        apiVersion: rules.apiVersion,
        kind: rules.kind,
        metadata: {
          name: `${target.name}-alerts`,
          namespace: target.namespace,
          labels: { ...rules.metadata.labels, ...target.labels, ...props.prometheusLabels },
        },
        spec: rules.spec,
      },
      ...(target.dependsOn ? { dependsOn: target.dependsOn } : {}),
    });

    this.serviceMonitor =
      "deployment" in props
        ? new Manifest(this, "ServiceMonitor", {
            manifest: {
              apiVersion: "monitoring.coreos.com/v1",
              kind: "ServiceMonitor",
              metadata: {
                name: target.name,
                namespace: target.namespace,
                labels: { ...target.labels, ...props.prometheusLabels },
              },
              spec: {
                selector: { matchLabels: target.labels },
                endpoints: [{ port: "metrics", path: "/metrics", interval: "30s" }],
              },
            },
            ...(target.dependsOn ? { dependsOn: target.dependsOn } : {}),
          })
        : undefined;
  }
}

interface RulesDocument {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly labels?: Record<string, string> };
  readonly spec: { readonly groups: readonly unknown[] };
}

function readAssets(dir: string): { dashboardText: string; rules: RulesDocument } {
  const read = (file: string) => {
    const path = resolve(join(dir, file));
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new Error(
        `GatewayObservability.assetsDir: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}) — run \`npx tollgate dashboards --out ${dir}\` before synth`,
      );
    }
  };
  const dashboardText = read(DASHBOARD_FILE);
  let dashboard: unknown;
  try {
    dashboard = JSON.parse(dashboardText);
  } catch {
    dashboard = undefined;
  }
  const d = dashboard as { uid?: unknown; panels?: unknown } | undefined;
  if (typeof d?.uid !== "string" || !Array.isArray(d.panels))
    throw new Error(
      `GatewayObservability.assetsDir: ${DASHBOARD_FILE} is not a Grafana dashboard (expected JSON with uid and panels) — write it again with \`npx tollgate dashboards --out ${dir}\``,
    );
  const rules = parse(read(RULES_FILE)) as Partial<RulesDocument> | null;
  if (rules?.apiVersion !== "monitoring.coreos.com/v1" || rules.kind !== "PrometheusRule" || !rules.spec)
    throw new Error(
      `GatewayObservability.assetsDir: ${RULES_FILE} is not a PrometheusRule (expected apiVersion monitoring.coreos.com/v1, kind PrometheusRule, got ${JSON.stringify(rules?.kind ?? null)}) — write it again with \`npx tollgate dashboards --out ${dir}\``,
    );
  return { dashboardText, rules: { ...(rules as RulesDocument), metadata: rules.metadata ?? {} } };
}

function targetOf(props: GatewayObservabilityProps): {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  dependsOn?: ConfigMap[];
} {
  if ("deployment" in props) {
    const deployment = props.deployment;
    const name = deployment.bundle.gatewayName;
    return {
      namespace: deployment.namespace,
      name,
      labels: { "app.kubernetes.io/name": "tollgate-gateway", "app.kubernetes.io/instance": name },
      // The deployment may create the namespace: its bundle ConfigMap exists only once the namespace does.
      dependsOn: [deployment.configMap],
    };
  }
  return {
    namespace: props.namespace,
    name: props.name ?? "tollgate-gateway",
    labels: props.labels ?? { "app.kubernetes.io/name": "tollgate-gateway" },
  };
}

function escapeStrings(value: unknown): unknown {
  if (typeof value === "string") return escapeTerraformTemplate(value);
  if (Array.isArray(value)) return value.map(escapeStrings);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeStrings(v)]));
  return value;
}
