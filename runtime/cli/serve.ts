/**
 * `tollgate serve --bundle <file> [--values <file>] [--overlay <file>] [--host 127.0.0.1] [--port 8080]
 *  [--metrics-port <port|off>]`
 *
 * Runs the gateway until SIGTERM/SIGINT, then shuts down gracefully and exits 0.
 */
import { GatewayStartError, startGateway } from "../server/index.js";
import { parseCommandArgs } from "./args.js";

const USAGE = `usage: tollgate serve --bundle <bundle.json> [--values values.json] [--overlay overlay.json] [--host 127.0.0.1] [--port 8080] [--metrics-port <port|off>] [--no-watch]

Runs the gateway until SIGTERM/SIGINT. The bundle must carry the digest cdktf synth wrote into it.
  --bundle <file>    the gateway bundle (the ConfigMap's bundle.json)
  --values <file>    values for the bundle's apply-time placeholders (the ConfigMap's values.json)
  --overlay <file>   a local overlay (values plus stand-in transports), for running outside the cluster
  --host <address>   address to listen on; default 127.0.0.1
  --port <port>      port to listen on; default 8080 (0: any free port)
  --metrics-port <port|off>
                     the admin port (/metrics, on --host): 0 takes any free port, off serves none; default
                     TOLLGATE_METRICS_PORT, else the overlay's metricsPort, else the bundle's telemetry.metrics.port
  --no-watch         do not reload when the bundle, values or overlay file changes
exit codes: 0 stopped by a signal, 1 the bundle or a secret could not be loaded, 2 usage`;

export async function serveCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "serve",
    args,
    {
      bundle: { type: "string" },
      values: { type: "string" },
      overlay: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
      "metrics-port": { type: "string" },
      "no-watch": { type: "boolean", default: false },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const { bundle, values, overlay, host, port } = parsed.values;
  const portNumber = parsePort(port ?? "");
  if (!bundle || parsed.positionals.length > 0 || portNumber === undefined) {
    console.error(USAGE);
    return 2;
  }
  const metricsPort = adminPort(parsed.values["metrics-port"], process.env.TOLLGATE_METRICS_PORT);
  if (typeof metricsPort === "string") {
    console.error(`tollgate serve: ${metricsPort}\n\n${USAGE}`);
    return 2;
  }

  let gateway;
  try {
    gateway = await startGateway({
      source: {
        kind: "files",
        bundleFile: bundle,
        ...(values ? { valuesFile: values } : {}),
        ...(overlay ? { overlayFile: overlay } : {}),
      },
      host: host ?? "127.0.0.1",
      port: portNumber,
      watch: !parsed.values["no-watch"],
      // Prometheus /metrics on the admin port, same host as traffic.
      metricsServer: metricsPort,
    });
  } catch (error) {
    console.error(error instanceof GatewayStartError ? error.message : `tollgate serve: ${(error as Error).message}`);
    return 1;
  }
  // One line on stderr that supervisors and tests can wait for (stdout carries the audit log).
  process.stderr.write(`tollgate: listening on ${gateway.url}\n`);
  if (gateway.metricsUrl) process.stderr.write(`tollgate: metrics on ${gateway.metricsUrl}\n`);
  const consoleUrl = gateway.consoleUrl();
  if (consoleUrl) process.stderr.write(`tollgate: console on ${consoleUrl}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.stderr.write(`tollgate: ${signal}: finishing in-flight requests\n`);
  await gateway.close();
  process.stderr.write("tollgate: stopped\n");
  // Everything is closed; do not let a lingering keep-alive socket of a client library hold the exit.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

/** A TCP port, 0 included (any free port); undefined when `text` is not one. */
function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65_535 ? port : undefined;
}

/**
 * Where the admin server listens: the flag wins over the environment, which wins over the bundle (as the
 * overlay left it: `true` here). A string is the usage error.
 */
export function adminPort(
  flag: string | undefined,
  env: string | undefined,
): boolean | { readonly port: number } | string {
  const [source, value] =
    flag !== undefined
      ? ["--metrics-port", flag]
      : env !== undefined && env !== ""
        ? ["TOLLGATE_METRICS_PORT", env]
        : [];
  if (source === undefined || value === undefined) return true;
  if (value === "off") return false;
  const port = parsePort(value);
  return port === undefined
    ? `${source}: expected a port (0-65535, 0: any free port) or "off", got ${JSON.stringify(value)}`
    : { port };
}
