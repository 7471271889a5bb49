/**
 * Synth benchmark: wall time and peak memory of synthesizing the full default environment (dev and
 * prod stacks with their bundles) in fresh processes, against a baseline measured in the same run
 * (a fresh process that loads cdktf and synthesizes an empty stack). Targets: ≤ 1.5 s, ≤ 300 MB.
 *
 * Run: `npm run bench -- synth`, `node --import tsx bench/synth.ts [runs]` (default 5), or call
 * `runSynthBench()`. Each measured process is this same file started as
 * `bench/synth.ts --child full|baseline <outdir>`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { App, TerraformStack } from "cdktf";

const ROOT = resolve(import.meta.dirname, "..");
const SELF = join(ROOT, "bench", "synth.ts");
export const TARGET_WALL_MS = 1500;
export const TARGET_RSS_MB = 300;

export interface SynthSample {
  readonly wallMs: number;
  readonly peakRssMb: number;
}

export interface SynthBenchResult {
  readonly runs: number;
  readonly full: { readonly medianWallMs: number; readonly medianPeakRssMb: number };
  readonly baseline: { readonly medianWallMs: number; readonly medianPeakRssMb: number };
  readonly wallRatio: number;
  readonly rssRatio: number;
  readonly withinTargets: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** One fresh process: `node --import tsx bench/synth.ts --child <mode> <tmp>`, timed from spawn to exit. */
function sample(mode: "full" | "baseline"): SynthSample {
  const outdir = mkdtempSync(join(tmpdir(), `tollgate-bench-${mode}-`));
  try {
    const started = performance.now();
    const child = spawnSync(process.execPath, ["--import", "tsx", SELF, "--child", mode, outdir], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const wallMs = performance.now() - started;
    if (child.status !== 0) throw new Error(`synth ${mode} failed (exit ${child.status}):\n${child.stderr}`);
    const line = child.stdout.trim().split("\n").pop() ?? "{}";
    const { maxRssKb } = JSON.parse(line) as { maxRssKb: number };
    return { wallMs, peakRssMb: maxRssKb / 1024 };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Runs baseline and full synth alternately, `runs` times each, and prints the medians and ratios. */
export function runSynthBench(runs = 5, log: (line: string) => void = console.log): SynthBenchResult {
  sample("full"); // warm the filesystem cache and tsx's transform cache; not counted
  const full: SynthSample[] = [];
  const baseline: SynthSample[] = [];
  for (let i = 0; i < runs; i++) {
    baseline.push(sample("baseline"));
    full.push(sample("full"));
  }
  const summary = (samples: SynthSample[]) => ({
    medianWallMs: median(samples.map((s) => s.wallMs)),
    medianPeakRssMb: median(samples.map((s) => s.peakRssMb)),
  });
  const f = summary(full);
  const b = summary(baseline);
  const result: SynthBenchResult = {
    runs,
    full: f,
    baseline: b,
    wallRatio: f.medianWallMs / b.medianWallMs,
    rssRatio: f.medianPeakRssMb / b.medianPeakRssMb,
    withinTargets: f.medianWallMs <= TARGET_WALL_MS && f.medianPeakRssMb <= TARGET_RSS_MB,
  };
  log(`synth benchmark (${runs} fresh processes each, medians)`);
  log(
    `  baseline (cdktf + empty stack): ${b.medianWallMs.toFixed(0)} ms wall, ${b.medianPeakRssMb.toFixed(0)} MB peak RSS`,
  );
  log(
    `  full default environment (dev + prod, bundles): ${f.medianWallMs.toFixed(0)} ms wall, ${f.medianPeakRssMb.toFixed(0)} MB peak RSS`,
  );
  log(`  ratio full/baseline: wall ×${result.wallRatio.toFixed(2)}, memory ×${result.rssRatio.toFixed(2)}`);
  log(`  target ≤ ${TARGET_WALL_MS} ms and ≤ ${TARGET_RSS_MB} MB: ${result.withinTargets ? "met" : "MISSED"}`);
  return result;
}

/**
 * The measured work, in the child: "full" synthesizes the default environment (dev + prod stacks,
 * bundles included); "baseline" loads cdktf and synthesizes one empty stack. Prints its peak RSS.
 * Only cdktf is imported statically, so the baseline loads nothing of Tollgate.
 */
async function child(mode: string, outdir: string): Promise<void> {
  const app = new App({ outdir });
  if (mode === "full") {
    const { EnvironmentStack } = await import("../stacks/environment-stack.js");
    const { ENVIRONMENTS } = await import("../stacks/environments.js");
    new EnvironmentStack(app, ENVIRONMENTS.dev);
    new EnvironmentStack(app, ENVIRONMENTS.prod);
  } else {
    new TerraformStack(app, "empty");
  }
  app.synth();
  console.log(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }));
}

if (process.argv[2] === "--child") {
  await child(process.argv[3] ?? "", process.argv[4] ?? "");
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv[2] ?? 5);
  const result = runSynthBench(Number.isInteger(runs) && runs > 0 ? runs : 5);
  process.exitCode = result.withinTargets ? 0 : 1;
}
