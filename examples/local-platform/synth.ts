/**
 * Synthesizes the default example environment (the cdktf app `stacks/main.ts`) into a private output
 * directory and finds the dev stack's `cdk.tf.json` and gateway bundle.
 */
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { spawnNodeGroup, stopGroup } from "./processes.js";

export interface SynthOutput {
  readonly stack: string;
  readonly stackDir: string;
  readonly cdkTfJsonPath: string;
  readonly bundlePath: string;
}

/** The repository root (where `stacks/main.ts` lives). */
export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** Runs `stacks/main.ts` with `CDKTF_OUTDIR=<outdir>` in a child process (its own process group). */
export async function synthesize(outdir: string, timeoutMs = 120_000): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(resolve(outdir, ".."), { recursive: true });
  const stderr: string[] = [];
  const child = spawnNodeGroup({
    name: "synth",
    args: ["--import", "tsx", join(REPO_ROOT, "stacks/main.ts")],
    cwd: REPO_ROOT,
    env: { ...process.env, CDKTF_OUTDIR: outdir },
    onStderrLine: (line) => stderr.push(line),
  });
  const timer = setTimeout(() => void stopGroup(child, 1_000), timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(`synth of stacks/main.ts failed (${signal ?? `exit ${code}`}):\n${stderr.slice(-30).join("\n")}`);
  }
}

interface Manifest {
  stacks?: Record<string, { synthesizedStackPath?: string; workingDirectory?: string }>;
}

/** Picks the stack: `preferred` if given, else the one whose name ends in `dev` (the default environment). */
export async function findStack(outdir: string, preferred?: string): Promise<SynthOutput> {
  const manifest = JSON.parse(await readFile(join(outdir, "manifest.json"), "utf8")) as Manifest;
  const names = Object.keys(manifest.stacks ?? {});
  const stack =
    preferred ?? names.find((n) => /(^|[-_])dev$/.test(n)) ?? names.find((n) => n.includes("dev")) ?? names[0];
  if (!stack || !manifest.stacks?.[stack]) {
    throw new Error(
      `stack "${preferred ?? "dev"}" not found in ${outdir}; synthesized stacks: ${names.join(", ") || "none"}`,
    );
  }
  const entry = manifest.stacks[stack];
  const stackDir = join(outdir, entry?.workingDirectory ?? join("stacks", stack));
  const cdkTfJsonPath = join(outdir, entry?.synthesizedStackPath ?? join("stacks", stack, "cdk.tf.json"));
  const bundles = (await readdir(stackDir)).filter((f) => f.endsWith(".bundle.json"));
  if (bundles.length !== 1) {
    throw new Error(`expected one *.bundle.json in ${stackDir}, found ${bundles.length ? bundles.join(", ") : "none"}`);
  }
  return { stack, stackDir, cdkTfJsonPath, bundlePath: join(stackDir, bundles[0] as string) };
}
