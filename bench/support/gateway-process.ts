/**
 * The proxy under test of a benchmark, in a process of its own: built the way the image ships it
 * (scripts/build-runtime.ts; `BENCH_SOURCES=1` runs the TypeScript sources through tsx instead) and pinned
 * to core 1 with `taskset` when there is a second core, while the load generator, upstreams and the
 * authorization server stay on core 0 (call {@link pinThisProcess} first).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join, resolve } from "node:path";
import { buildGateway } from "../../scripts/build-runtime.js";
import { execForm, parseDockerfile } from "../../test/e2e/dockerfile-image.js";
import type { ChildConfig } from "./gateway-child.js";

const ROOT = resolve(import.meta.dirname, "../..");
const fromSources = process.env.BENCH_SOURCES === "1";

export const canPin = spawnSync("taskset", ["-V"]).status === 0 && availableParallelism() >= 2;

/** Pins the calling process (load generator, upstreams) to core 0. */
export function pinThisProcess(): void {
  if (canPin) spawnSync("taskset", ["-cp", "0", String(process.pid)], { stdio: "ignore" });
}

/**
 * The Node options the image's ENTRYPOINT gives the gateway (runtime/Dockerfile, between node and the script):
 * Tollgate's processes run with them, as in production; the pass-through runs on plain Node.
 */
export const IMAGE_NODE_FLAGS: readonly string[] = execForm(parseDockerfile().at(-1)!, "ENTRYPOINT").slice(1, -1);

/** One line for a benchmark's header: how the proxy under test runs. */
export function describeProxyProcess(): string {
  const image = IMAGE_NODE_FLAGS.length > 0 ? `, Tollgate on node ${IMAGE_NODE_FLAGS.join(" ")} (the image's)` : "";
  const flags = PROXY_NODE_FLAGS.length > 0 ? `, node ${PROXY_NODE_FLAGS.join(" ")} (every proxy)` : "";
  return `proxy under test: ${fromSources ? "TypeScript sources through tsx (BENCH_SOURCES=1)" : "built like the image (npm run build)"}, ${canPin ? "pinned to core 1" : "not pinned (taskset or a 2nd core missing)"}${image}${flags}`;
}

let built: Promise<string[]> | undefined;
/**
 * The command line of the child: the built bundle (built once per run) or the sources. The build goes to a
 * directory of this work tree's own: work trees share node_modules (a symlink), and a shared directory would be
 * emptied and rebuilt by another tree's run while this one starts its proxies from it.
 */
function childCommand(): Promise<string[]> {
  if (fromSources) return Promise.resolve(["--import", "tsx", join(ROOT, "bench/support/gateway-child.ts")]);
  built ??= buildGateway({
    entryPoints: { "gateway-child": "bench/support/gateway-child.ts" },
    outdir: `node_modules/.cache/tollgate-bench-${basename(ROOT)}`,
  }).then((dir) => [join(dir, "gateway-child.mjs")]);
  return built;
}

export interface GatewayProcess {
  readonly port: number;
  /** User + system CPU time of the process so far, in microseconds. */
  cpuMicros(): Promise<number>;
  /** The process's peak resident set size so far, in MB. */
  peakRssMb(): Promise<number>;
  /** The process's resident set size now, in MB. */
  rssMb(): Promise<number>;
  /** Event-loop delay and GC pauses since the last call (or the start). */
  pauses(): Promise<ChildPauses>;
  /** The scheduler's account of the process's main thread (its event loop) so far; undefined off Linux. */
  schedStat(): SchedStat | undefined;
  close(): void;
}

/**
 * `/proc/<pid>/schedstat` of a main thread: time on a core, time runnable but waiting for one (other processes
 * had it), and how many times it was given a core.
 */
export interface SchedStat {
  readonly runMicros: number;
  readonly waitMicros: number;
  readonly slices: number;
}

function schedStatOf(pid: number | undefined): SchedStat | undefined {
  if (pid === undefined) return undefined;
  try {
    const [run, wait, slices] = readFileSync(`/proc/${pid}/schedstat`, "utf8").trim().split(" ").map(Number);
    return { runMicros: (run ?? 0) / 1000, waitMicros: (wait ?? 0) / 1000, slices: slices ?? 0 };
  } catch {
    return undefined;
  }
}

/** What the child answers to `{type:"usage"}`. */
export interface ChildUsage {
  readonly cpu: NodeJS.CpuUsage;
  readonly maxRssKb: number;
  /** Resident set size when asked. */
  readonly rssKb: number;
}

/** GC pauses of one kind, in a span of time. */
export interface GcPauses {
  readonly count: number;
  /** Their total duration. */
  readonly ms: number;
  /** The longest one. */
  readonly maxMs: number;
}

/** What the child answers to `{type:"pauses"}`: what stopped its event loop since the last such question. */
export interface ChildPauses {
  /** Event-loop delay (monitorEventLoopDelay at 1 ms resolution): its 99th percentile and maximum. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Young-generation collections (scavenges). */
  readonly young: GcPauses;
  /** Every other collection (mark-compact, incremental marking steps, weak callbacks). */
  readonly other: GcPauses;
}

function ask<K extends "usage" | "pauses">(
  child: ChildProcess,
  type: K,
): Promise<K extends "usage" ? ChildUsage : ChildPauses> {
  return new Promise((resolveAnswer) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (m.type !== type || !m[type]) return;
      child.off("message", onMessage);
      resolveAnswer(m[type] as K extends "usage" ? ChildUsage : ChildPauses);
    };
    child.on("message", onMessage);
    child.send({ type });
  });
}

/**
 * Node options of every proxy process of a run (pass-through and Tollgate alike, so a V8 setting is a
 * harness setting both get): `BENCH_NODE_FLAGS`, e.g. `--max-semi-space-size=32`.
 */
export const PROXY_NODE_FLAGS = flagsOf(process.env.BENCH_NODE_FLAGS);

/**
 * Node options of the new build in an A/B of two builds (bench/tools/compare-*-builds.ts): {@link PROXY_NODE_FLAGS}
 * plus `BENCH_NEW_NODE_FLAGS`, so a V8 or Node setting can be compared with the same code on both sides.
 */
export const NEW_BUILD_NODE_FLAGS = [...PROXY_NODE_FLAGS, ...flagsOf(process.env.BENCH_NEW_NODE_FLAGS)];

function flagsOf(setting: string | undefined): string[] {
  return (setting ?? "").split(" ").filter((flag) => flag !== "");
}

/** The guard policy of the full chain the benchmarks measure: PII, injection, credential leak, limits that never refuse. */
export const FULL_CHAIN_POLICY = {
  id: "default",
  pii: { mode: "mask" as const },
  promptInjection: { mode: "block" as const },
  credentialLeak: { mode: "block" as const, holdBackChars: 256 },
  limits: { windowSeconds: 60, requestsPerWindow: 100_000_000, tokensPerWindow: 1_000_000_000_000 },
};

/**
 * Starts the proxy under test; `childFile` runs that build of gateway-child instead of this tree's, `nodeFlags`
 * replace {@link PROXY_NODE_FLAGS} for this process (an A/B of a V8 setting). Tollgate's processes get
 * {@link IMAGE_NODE_FLAGS} first.
 */
export async function startGatewayProcess(
  config: ChildConfig,
  childFile?: string,
  nodeFlags: readonly string[] = PROXY_NODE_FLAGS,
): Promise<GatewayProcess> {
  const imageFlags = config.mode === "passthrough" ? [] : IMAGE_NODE_FLAGS;
  const args = [...imageFlags, ...nodeFlags, ...(childFile ? [childFile] : await childCommand())];
  const child: ChildProcess = canPin
    ? spawn("taskset", ["-c", "1", process.execPath, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    : spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.once("message", (m: { type?: string; port?: number }) =>
      m.type === "ready" && m.port ? resolvePort(m.port) : reject(new Error("gateway process failed to start")),
    );
    child.once("exit", (code) => reject(new Error(`gateway process exited ${code}`)));
    child.send(config);
  });
  return {
    port,
    cpuMicros: () => ask(child, "usage").then((usage) => usage.cpu.user + usage.cpu.system),
    peakRssMb: () => ask(child, "usage").then((usage) => usage.maxRssKb / 1024),
    rssMb: () => ask(child, "usage").then((usage) => usage.rssKb / 1024),
    pauses: () => ask(child, "pauses"),
    // taskset execs the proxy: same pid.
    schedStat: () => schedStatOf(child.pid),
    close: () => void child.send({ type: "exit" }),
  };
}
