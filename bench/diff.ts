/**
 * `tollgate diff` on two syntheses of the example environment that differ by one granted tool
 * (mcp:read gains github's approve_deployment, a tool no scope but mcp:admin had). Target: under 2 s per run, process start included.
 * Baseline in the same run: `tollgate --help` (the cost of starting the CLI at all).
 *
 * `node --import tsx bench/diff.ts` runs the benchmark; `bench/diff.ts --synth <outdir> [--grant]` is the
 * cdktf app it uses to synthesize each side.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tollgate = join(root, "bin/tollgate.mjs");
const RUNS = 7;

async function synthMode(outdir: string, grant: boolean): Promise<void> {
  const { App } = await import("cdktf");
  const { EnvironmentStack } = await import("../stacks/environment-stack.js");
  const { ENVIRONMENTS } = await import("../stacks/environments.js");
  const app = new App({ outdir });
  const dev = new EnvironmentStack(app, ENVIRONMENTS.dev);
  if (grant) dev.platform.scopes.grantTools("mcp:read", dev.platform.routes.github, "approve_deployment");
  app.synth();
}

function timeRun(args: string[]): { ms: number; status: number | null; stdout: string } {
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [tollgate, ...args], { encoding: "utf8" });
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, status: run.status, stdout: run.stdout };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-bench-diff-"));
  try {
    for (const [side, grant] of [
      ["base", false],
      ["head", true],
    ] as const) {
      const synth = spawnSync(
        process.execPath,
        ["--import", "tsx", fileURLToPath(import.meta.url), "--synth", join(dir, side), ...(grant ? ["--grant"] : [])],
        { encoding: "utf8", cwd: root },
      );
      if (synth.status !== 0) throw new Error(`synth of ${side} failed: ${synth.stderr}`);
    }
    const diffArgs = ["diff", join(dir, "base"), join(dir, "head"), "--format", "markdown"];
    const first = timeRun(diffArgs);
    if (!first.stdout.includes("mcp:read can now call github__approve_deployment"))
      throw new Error("the diff did not report the granted tool as a widening");
    const baseline: number[] = [];
    const diff: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      baseline.push(timeRun(["--help"]).ms);
      diff.push(timeRun(diffArgs).ms);
    }
    const b = median(baseline);
    const d = median(diff);
    console.log(`tollgate --help (baseline, process start): median ${b.toFixed(0)} ms over ${RUNS} runs`);
    console.log(`tollgate diff (example env, one granted tool): median ${d.toFixed(0)} ms over ${RUNS} runs`);
    console.log(
      `ratio diff/baseline: ${(d / b).toFixed(2)}; diff work beyond process start: ${(d - b).toFixed(0)} ms; target < 2000 ms: ${d < 2000 ? "met" : "MISSED"}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const synthAt = process.argv.indexOf("--synth");
if (synthAt >= 0) await synthMode(process.argv[synthAt + 1]!, process.argv.includes("--grant"));
else await bench();
