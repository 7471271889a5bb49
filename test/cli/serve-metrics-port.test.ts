/**
 * Where `tollgate serve` puts its admin (/metrics) server: `--metrics-port` over TOLLGATE_METRICS_PORT over
 * the overlay's `metricsPort` over the bundle's `telemetry.metrics.port`; `off` serves none, 0 any free port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { withDigest } from "../../policies/bundle/index.js";
import { adminPort } from "../../runtime/cli/serve.js";
import { createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { type RunningGateway, startGateway } from "../../runtime/server/index.js";
import { authTestBundle, freePort } from "../support/gateway.js";
import { runCli } from "./run-cli.js";

describe("the admin port's source", () => {
  it("is the flag when given, whatever the environment says", () => {
    expect(adminPort("0", "9999")).toEqual({ port: 0 });
    expect(adminPort("off", "9999")).toBe(false);
    expect(adminPort("9465", undefined)).toEqual({ port: 9465 });
  });

  it("is TOLLGATE_METRICS_PORT without a flag, and the bundle (as the overlay left it) without either", () => {
    expect(adminPort(undefined, "9999")).toEqual({ port: 9999 });
    expect(adminPort(undefined, "off")).toBe(false);
    expect(adminPort(undefined, undefined)).toBe(true);
    expect(adminPort(undefined, "")).toBe(true);
  });

  it("names the flag or the variable, what it takes and what it got, for a bad value", () => {
    expect(adminPort("9464x", undefined)).toBe(
      '--metrics-port: expected a port (0-65535, 0: any free port) or "off", got "9464x"',
    );
    expect(adminPort(undefined, "65536")).toMatch(/^TOLLGATE_METRICS_PORT: expected a port .* got "65536"$/);
    expect(adminPort("-1", "9464")).toMatch(/^--metrics-port: /);
  });
});

describe("tollgate serve with a bad admin port", () => {
  it("exits 2 with the reason and the usage, before loading anything", async () => {
    const run = await runCli(["serve", "--bundle", "/nonexistent/bundle.json", "--metrics-port", "metrics"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'tollgate serve: --metrics-port: expected a port (0-65535, 0: any free port) or "off"',
    );
    expect(run.stderr).toContain("usage: tollgate serve");
    expect(run.stderr).toContain("--metrics-port <port|off>");
  });

  it("exits 2 naming TOLLGATE_METRICS_PORT when the environment holds a bad value", async () => {
    const previous = process.env.TOLLGATE_METRICS_PORT;
    process.env.TOLLGATE_METRICS_PORT = "nine";
    try {
      const run = await runCli(["serve", "--bundle", "/nonexistent/bundle.json"]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        'TOLLGATE_METRICS_PORT: expected a port (0-65535, 0: any free port) or "off", got "nine"',
      );
    } finally {
      if (previous === undefined) delete process.env.TOLLGATE_METRICS_PORT;
      else process.env.TOLLGATE_METRICS_PORT = previous;
    }
  });
});

describe("the overlay's metricsPort", () => {
  const gateways: RunningGateway[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  });
  const start = async (overlay: unknown, metricsServer: true | { port: number }) => {
    const gateway = await startGateway({
      source: { kind: "inline", bundle: authTestBundle("http://127.0.0.1:9", "http://127.0.0.1:8"), overlay },
      port: 0,
      env: {},
      audit: createMemoryAuditLog(),
      log: () => undefined,
      metricsServer,
      telemetry: { defaultMetrics: false },
    });
    gateways.push(gateway);
    return gateway;
  };

  it('"off" starts no admin server, a port moves it, and an explicit port (flag or env) still wins', async () => {
    expect((await start({ metricsPort: "off" }, true)).metricsUrl).toBeUndefined();

    const moved = await start({ metricsPort: 0 }, true);
    expect(moved.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(moved.metricsUrl).not.toContain(":9464/");
    expect((await fetch(moved.metricsUrl!)).status).toBe(200);

    const forced = await start({ metricsPort: "off" }, { port: 0 });
    expect((await fetch(forced.metricsUrl!)).status).toBe(200);
  });

  it("is refused with the overlay's field named when it is not a port", async () => {
    await expect(start({ metricsPort: "9464" }, true)).rejects.toThrow(
      /overlay\.metricsPort: expected a port \(0-65535, 0: any free port\) or "off"/,
    );
  });
});

describe("two tollgate serve processes on one host", () => {
  let dir: string;
  let bundleFile: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-serve-metrics-"));
    bundleFile = join(dir, "bundle.json");
    // Unreachable issuer: the processes start (not ready), which is all this needs.
    await writeFile(bundleFile, JSON.stringify(withDigest(authTestBundle("http://127.0.0.1:9", "http://127.0.0.1:8"))));
  });
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  /** Starts `tollgate serve`; resolves with its traffic URL and admin URL (when it got one) once both are known. */
  function serve(args: string[], env: Record<string, string> = {}): Promise<{ url: string; metricsUrl?: string }> {
    const child = spawn(
      process.execPath,
      [resolve("bin/tollgate.mjs"), "serve", "--bundle", bundleFile, "--port", "0", "--no-watch", ...args],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TOLLGATE_METRICS_PORT: "", ...env } },
    );
    children.push(child);
    return new Promise((resolvePromise, reject) => {
      let buffer = "";
      child.stderr?.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const url = /listening on (\S+)/.exec(buffer)?.[1];
        const metricsUrl = /metrics on (\S+)/.exec(buffer)?.[1];
        // A failed admin port is reported before "listening on"; a served one right after it.
        if (url && (metricsUrl || buffer.includes("metrics server not started")))
          resolvePromise({ url, ...(metricsUrl ? { metricsUrl } : {}) });
      });
      child.once("exit", (code) => reject(new Error(`tollgate serve exited (${code}): ${buffer}`)));
    });
  }

  // Three real processes at once: slow to start on a loaded machine, hence the longer timeout.
  it("all start with their own admin ports: --metrics-port 0 twice, the flag over TOLLGATE_METRICS_PORT, the variable alone", async () => {
    const port = await freePort();
    const [a, flagWins, fromEnv] = await Promise.all([
      serve(["--metrics-port", "0"]),
      serve(["--metrics-port", "0"], { TOLLGATE_METRICS_PORT: String(port) }),
      serve([], { TOLLGATE_METRICS_PORT: String(port) }),
    ]);
    // Had the flag lost to the variable, two processes would want `port` and one would serve no metrics.
    expect(fromEnv.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(flagWins.metricsUrl).toBeDefined();
    expect(a.metricsUrl).toBeDefined();
    expect(new Set([a.metricsUrl, flagWins.metricsUrl, fromEnv.metricsUrl]).size).toBe(3);
    for (const { metricsUrl } of [a, flagWins, fromEnv]) {
      const response = await fetch(metricsUrl!);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("tollgate_");
    }
  }, 120_000);
});
