/**
 * A real HAProxy (Debian's package) in front of gateway replicas for tests: round robin on 127.0.0.1, each
 * response stamped `x-served-by: <server name>` so a test sees which replica answered. A request a replica
 * refused the connection for (killed) is sent to another one (`redispatch`); one it had already received is
 * not (its answer is lost with the replica), and health checks on /healthz take
 * it out of the rotation, as a Kubernetes Service does with a pod that is gone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../examples/local-platform/free-port.js";

export interface LoadBalancer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

function haproxyBinary(): string {
  for (const candidate of ["/usr/sbin/haproxy", "/usr/bin/haproxy"]) if (existsSync(candidate)) return candidate;
  return "haproxy";
}

/** The config: `backends` by name → "127.0.0.1:port". */
export function haproxyConfig(port: number, backends: Readonly<Record<string, string>>): string {
  return [
    "global",
    "  maxconn 1024",
    "defaults",
    "  mode http",
    "  timeout connect 1s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout tunnel 60s",
    "  retries 3",
    "  option redispatch 1",
    // Only a request that never reached a replica is sent to another: a tools/call is not idempotent.
    "  retry-on conn-failure",
    "frontend gateway",
    `  bind 127.0.0.1:${port}`,
    "  default_backend replicas",
    "backend replicas",
    "  balance roundrobin",
    "  option httpchk GET /healthz",
    "  http-response set-header x-served-by %s",
    ...Object.entries(backends).map(([name, address]) => `  server ${name} ${address} check inter 500 fall 1 rise 1`),
    "",
  ].join("\n");
}

/** Starts HAProxy on a free port in front of `backends`; resolves once it accepts connections. */
export async function startLoadBalancer(
  backends: Readonly<Record<string, string>>,
  port?: number,
): Promise<LoadBalancer> {
  const lbPort = port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), "tollgate-haproxy-"));
  const configFile = join(dir, "haproxy.cfg");
  await writeFile(configFile, haproxyConfig(lbPort, backends));
  // -db: stay in the foreground, so the test owns the process and stops it.
  const child: ChildProcess = spawn(haproxyBinary(), ["-db", "-f", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`haproxy exited (${code}): ${output.slice(-800)}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([portOpen(lbPort), exited]);
  return {
    url: `http://127.0.0.1:${lbPort}`,
    port: lbPort,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port` (retrying each refusal at once). */
function portOpen(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const attempt = () => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}
