/**
 * `tollgate dashboards --out <dir>`: the Grafana dashboard and the PrometheusRule alerts of the gateway, built
 * from the metric names it registers, as files to import into Grafana and `kubectl apply`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { grafanaDashboard, prometheusRule } from "../observability/dashboards.js";
import { parseCommandArgs } from "./args.js";

/** File names in `--out`, also what the GatewayObservability construct reads. */
export const DASHBOARD_FILE = "grafana-dashboard.json";
export const RULES_FILE = "prometheus-rules.yaml";

const USAGE = `usage: tollgate dashboards --out <dir>

Writes the gateway's observability assets, built from the metric names the gateway registers:
  ${DASHBOARD_FILE}   Grafana dashboard (import it, or let the Grafana sidecar load it from a ConfigMap)
  ${RULES_FILE}    PrometheusRule (monitoring.coreos.com/v1): error rate, denied-rate spike, MCP upstream
                            down, rate-limit saturation, bundle reload failures
  --out <dir>   directory to write to, created if missing; existing files of these names are replaced
See docs/observability.md for the panels, the alert thresholds and how to install them.
exit codes: 0 written, 1 the directory cannot be written, 2 usage`;

export async function dashboardsCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("dashboards", args, { out: { type: "string" } }, USAGE);
  if (typeof parsed === "number") return parsed;
  const usageError = (message: string) => {
    console.error(`tollgate dashboards: ${message}\n\n${USAGE}`);
    return 2;
  };
  if (parsed.positionals.length > 0) return usageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
  const out = parsed.values.out;
  if (!out) return usageError("--out <dir> is required: the directory the two files are written to");
  const files = {
    [DASHBOARD_FILE]: `${JSON.stringify(grafanaDashboard(), null, 2)}\n`,
    [RULES_FILE]: stringify(prometheusRule(), { lineWidth: 0 }),
  };
  try {
    await mkdir(out, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(out, name), text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(`tollgate dashboards: cannot write to ${out} (${code ?? (error as Error).message})`);
    return 1;
  }
  for (const name of Object.keys(files)) console.log(join(out, name));
  return 0;
}
