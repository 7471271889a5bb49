/** Helpers for construct tests: synthesize with validations on and read resources by type. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Testing, type TerraformStack } from "cdktf";
import { synthErrors } from "../../constructs/index.js";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS, type EnvironmentName, type EnvironmentSettings } from "../../stacks/environments.js";

/** One fixed directory for every test app (Testing.app() would create a new temp dir per stack). */
export function testAppDir(): string {
  const dir = join(tmpdir(), "tollgate-construct-tests");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export type TfJson = {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  variable?: Record<string, Record<string, unknown>>;
  terraform: { backend?: Record<string, Record<string, unknown>> };
};

/** `Testing.synth(stack, true)`: aspects and validations run; validation errors and error annotations throw, as in `cdktf synth`. */
export function synthJson(stack: TerraformStack): TfJson {
  const json = Testing.synth(stack, true);
  const errors = synthErrors(stack);
  if (errors.length > 0) throw new Error(errors.join("\n"));
  return JSON.parse(json) as TfJson;
}

/** Every resource of `type`, as synthesized (snake_case attributes). */
export function resources(tf: TfJson, type: string): Record<string, unknown>[] {
  return Object.values(tf.resource[type] ?? {});
}

/** The only resource of `type`; fails when there is not exactly one. */
export function single(tf: TfJson, type: string): Record<string, unknown> {
  const all = resources(tf, type);
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0] as Record<string, unknown>;
}

/** A stack of the default environment, in its own app (Testing.app keeps synth output in a temp dir). */
export function environmentStack(
  name: EnvironmentName,
  change: (s: EnvironmentSettings) => EnvironmentSettings = (s) => s,
): EnvironmentStack {
  return new EnvironmentStack(Testing.app({ outdir: testAppDir() }), change(ENVIRONMENTS[name]));
}

const synthDirs: string[] = [];

/** Full synthesis as `cdktf synth` does it, into a fresh directory; returns that directory. */
export function synthApp(build: (app: App) => void): string {
  const outdir = mkdtempSync(join(tmpdir(), "tollgate-synth-"));
  synthDirs.push(outdir);
  const app = new App({ outdir, skipValidation: false });
  build(app);
  app.synth();
  return outdir;
}

/** Removes every directory `synthApp` created (call in afterAll). */
export function removeSynthDirs(): void {
  for (const dir of synthDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function readStackFile(outdir: string, stack: string, file: string): string {
  return readFileSync(join(outdir, "stacks", stack, file), "utf8");
}

/** Error annotations after running aspects and validations (what would fail `cdktf synth`). */
export function checkErrors(stack: TerraformStack): string[] {
  Testing.synth(stack, true);
  return synthErrors(stack);
}
