/**
 * `tollgate serve --bundle <file> [--values <file>] [--overlay <file>] [--host 127.0.0.1] [--port 8080]`
 *
 * Runs the gateway until SIGTERM/SIGINT, then shuts down gracefully and exits 0.
 */
import { GatewayStartError, startGateway } from "../server/index.js";
import { parseCommandArgs } from "./args.js";

const USAGE =
  "usage: tollgate serve --bundle <bundle.json> [--values values.json] [--overlay overlay.json] [--host 127.0.0.1] [--port 8080] [--no-watch]";

export async function serveCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("serve", args, {
    bundle: { type: "string" },
    values: { type: "string" },
    overlay: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8080" },
    "no-watch": { type: "boolean", default: false },
  });
  if (!parsed) return 2;
  const { bundle, values, overlay, host, port } = parsed.values;
  const portNumber = Number(port);
  if (
    !bundle ||
    parsed.positionals.length > 0 ||
    !Number.isInteger(portNumber) ||
    portNumber < 0 ||
    portNumber > 65_535
  ) {
    console.error(USAGE);
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
      // Prometheus /metrics on the bundle's admin port (telemetry.metrics.port), same host as traffic.
      metricsServer: true,
    });
  } catch (error) {
    console.error(error instanceof GatewayStartError ? error.message : `tollgate serve: ${(error as Error).message}`);
    return 1;
  }
  // One line on stderr that supervisors and tests can wait for (stdout carries the audit log).
  process.stderr.write(`tollgate: listening on ${gateway.url}\n`);
  if (gateway.metricsUrl) process.stderr.write(`tollgate: metrics on ${gateway.metricsUrl}\n`);

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
