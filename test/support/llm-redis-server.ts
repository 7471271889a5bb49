/**
 * A real `redis-server` for tests: started on a free 127.0.0.1 port with no persistence, stopped in
 * teardown. Readiness is awaited from the server's own "Ready to accept connections" line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "../../examples/local-platform/free-port.js";

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** `password`: the server requires it (`--requirepass`, as the in-cluster Redis of GatewayDeployment does); `url` carries it. */
export async function startRedisServer(options: { readonly password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  const auth = options.password ? ["--requirepass", options.password] : [];
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...auth],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)));
  });
  return {
    url: options.password ? `redis://:${options.password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
