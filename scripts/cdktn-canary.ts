/**
 * CDK Terrain canary: would Tollgate work on `cdktn`, the community continuation of the archived cdktf?
 *
 * Copies a commit of this repository (git archive, default HEAD) into a temporary directory, rewrites the
 * copy's package.json so that `cdktf`, `cdktf-cli`, `constructs` and every `@cdktf/provider-*` that cdktn
 * publishes as `@cdktn/provider-*` resolve to cdktn's packages (npm aliases, plus `overrides` so that the
 * prebuilt providers cdktn does not publish load cdktn too), installs, and runs the type check, the synth
 * tests (test/constructs, test/review) and `npm run synth` there. Prints a Markdown report: what was
 * substituted by what, what passed, and what blocked with its first error line.
 *
 *   npx node --import tsx scripts/cdktn-canary.ts [--ref <commit>] [--cdktn <version>] [--report-file <path>] [--keep]
 *
 * Exit 0 whenever it gets as far as a report, failing tests included: it is a canary, not a gate.
 * Exit 1 only when the canary itself cannot run (not a git checkout, registry unreachable, bad arguments).
 * The real checkout is never written to; `npm test` does not run this.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const SYNTH_TEST_DIRS = ["test/constructs", "test/review"];
const MINUTE = 60_000;

/** The canary could not run; distinct from a finding about cdktn, which goes into the report. */
class CanaryError extends Error {}

interface Options {
  readonly ref: string;
  /** cdktn version to try; undefined means the registry's `latest`. */
  readonly cdktn: string | undefined;
  readonly reportFile: string | undefined;
  readonly keep: boolean;
}

type Substitution =
  | {
      readonly kind: "replaced";
      readonly name: string;
      readonly from: string;
      /** The npm spec the copy's package.json gets, e.g. `npm:cdktn@0.24.0`. */
      readonly to: string;
      readonly note?: string;
    }
  | { readonly kind: "kept"; readonly name: string; readonly version: string; readonly why: string };

interface Plan {
  readonly cdktnVersion: string;
  readonly constructsVersion: string;
  readonly substitutions: readonly Substitution[];
}

type Outcome =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly detail: string; readonly firstError: string };

interface TestFileResult {
  readonly file: string;
  readonly passed: number;
  readonly failed: number;
  /** First line of the first failure, or of the error that stopped the file from loading. */
  readonly firstError: string | undefined;
}

interface Report {
  readonly ref: string;
  readonly commit: string;
  readonly plan: Plan;
  readonly resolved: readonly string[];
  readonly install: Outcome;
  readonly typecheck: Outcome | undefined;
  readonly tests: { readonly outcome: Outcome; readonly files: readonly TestFileResult[] } | undefined;
  readonly synth: Outcome | undefined;
}

// ---------------------------------------------------------------------------------------------- arguments

function parseArgs(argv: readonly string[]): Options {
  let ref = "HEAD";
  let cdktn: string | undefined;
  let reportFile: string | undefined;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined || next.startsWith("--")) throw new CanaryError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--ref") ref = value();
    else if (arg === "--cdktn") cdktn = value();
    else if (arg === "--report-file") reportFile = resolve(value());
    else if (arg === "--keep") keep = true;
    else
      throw new CanaryError(
        `unknown argument ${arg}; use --ref <commit>, --cdktn <version>, --report-file <path>, --keep`,
      );
  }
  return { ref, cdktn, reportFile, keep };
}

// ------------------------------------------------------------------------------------------------ processes

interface Run {
  readonly status: number | null;
  readonly output: string;
  readonly timedOut: boolean;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number, env = process.env): Run {
  const result = spawnSync(command, args, {
    cwd,
    env,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT")
    throw new CanaryError(`${command} is not on PATH`);
  const timedOut = (result.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT";
  return { status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}`, timedOut };
}

/**
 * The environment for commands run in the copy: the copy's own node_modules/.bin first (its `node` is
 * the project's Node 22), and none of the real checkout's, so nothing resolves back to cdktf.
 */
function copyEnv(workDir: string): NodeJS.ProcessEnv {
  const realBin = join(ROOT, "node_modules");
  const path = (process.env.PATH ?? "").split(delimiter).filter((entry) => entry !== "" && !entry.startsWith(realBin));
  return {
    ...process.env,
    PATH: [join(workDir, "node_modules", ".bin"), ...path].join(delimiter),
    CHECKPOINT_DISABLE: "1",
    CI: "1",
  };
}

const ERROR_LINE = /Error\b|ERR!|\b(error|ERESOLVE|E404|Cannot find|not found|failed)\b/;

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/\x1b\[[0-9;]*m/g, "").trim())
    .filter((line) => line !== "");
}

const clip = (line: string): string => (line.length > 300 ? `${line.slice(0, 297)}...` : line);

/** The line of a command's output that says what went wrong. */
function firstErrorLine(output: string): string {
  const all = lines(output);
  return clip(all.find((l) => ERROR_LINE.test(l)) ?? all.at(-1) ?? "(no output)");
}

const NETWORK_ERROR = /\b(ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN)\b/;

// ------------------------------------------------------------------------------------------------- registry

interface Manifest {
  readonly version: string;
  readonly peerDependencies?: Record<string, string>;
}

/** A package's manifest from the registry; undefined when it is not published (E404). */
function view(spec: string): Manifest | undefined {
  const result = run("npm", ["view", spec, "--json"], ROOT, 2 * MINUTE);
  if (result.status !== 0) {
    if (/\bE404\b/.test(result.output)) return undefined;
    throw new CanaryError(`npm view ${spec} failed: ${firstErrorLine(result.output)}`);
  }
  // A range no version matches gives no output at all.
  if (result.output.trim() === "") return undefined;
  const parsed = JSON.parse(result.output) as Manifest | Manifest[];
  // A range matching several versions gives one manifest per version, oldest first.
  const manifest = Array.isArray(parsed) ? parsed.at(-1) : parsed;
  if (!manifest) return undefined;
  return manifest;
}

function planSubstitutions(pkg: PackageJson, requested: string | undefined): Plan {
  const core = view(requested ? `cdktn@${requested}` : "cdktn");
  if (!core) throw new CanaryError(`cdktn${requested ? `@${requested}` : ""} is not on the npm registry`);
  const cli = view(`cdktn-cli@${core.version}`);
  if (!cli) throw new CanaryError(`cdktn-cli@${core.version} is not on the npm registry`);
  const constructsRange = core.peerDependencies?.constructs;
  const constructsVersion = constructsRange
    ? view(`constructs@${constructsRange}`)?.version
    : (pkg.devDependencies?.constructs ?? pkg.dependencies?.constructs);
  if (!constructsVersion)
    throw new CanaryError(`no constructs version on the registry satisfies cdktn's peer range ${constructsRange}`);

  const current = (name: string): string => pkg.dependencies?.[name] ?? pkg.devDependencies?.[name] ?? "(absent)";
  const substitutions: Substitution[] = [
    { kind: "replaced", name: "cdktf", from: current("cdktf"), to: `npm:cdktn@${core.version}` },
    { kind: "replaced", name: "cdktf-cli", from: current("cdktf-cli"), to: `npm:cdktn-cli@${cli.version}` },
    { kind: "replaced", name: "constructs", from: current("constructs"), to: constructsVersion },
  ];
  const providers = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((name) =>
    name.startsWith("@cdktf/provider-"),
  );
  for (const name of providers.sort()) {
    const twin = name.replace("@cdktf/", "@cdktn/");
    const manifest = view(twin);
    if (manifest) {
      const accepts = manifest.peerDependencies?.cdktn;
      substitutions.push({
        kind: "replaced",
        name,
        from: current(name),
        to: `npm:${twin}@${manifest.version}`,
        ...(accepts ? { note: `peer cdktn ${accepts}` } : {}),
      });
    } else {
      substitutions.push({
        kind: "kept",
        name,
        version: current(name),
        why: `${twin} is not published; the cdktf build stays and loads cdktn through the \`cdktf\` alias`,
      });
    }
  }
  return { cdktnVersion: core.version, constructsVersion, substitutions };
}

// ----------------------------------------------------------------------------------------------- the copy

interface PackageJson {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  overrides?: Record<string, string>;
}

function copyRepository(ref: string, workDir: string): string {
  const commit = run("git", ["rev-parse", "--verify", `${ref}^{commit}`], ROOT, MINUTE);
  if (commit.status !== 0) throw new CanaryError(`${ref} is not a commit of ${ROOT}: ${firstErrorLine(commit.output)}`);
  const archive = spawnSync("git", ["archive", "--format=tar", commit.output.trim()], {
    cwd: ROOT,
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (archive.status !== 0) throw new CanaryError(`git archive failed: ${String(archive.stderr)}`);
  const untar = spawnSync("tar", ["-x", "-C", workDir], { input: archive.stdout });
  if (untar.status !== 0) throw new CanaryError(`tar failed: ${String(untar.stderr)}`);
  return commit.output.trim();
}

function rewritePackageJson(pkg: PackageJson, plan: Plan): PackageJson {
  const next: PackageJson = structuredClone(pkg);
  const overrides: Record<string, string> = { ...next.overrides };
  for (const sub of plan.substitutions) {
    if (sub.kind !== "replaced") continue;
    const spec = sub.to;
    for (const field of ["dependencies", "devDependencies", "peerDependencies"] as const) {
      const deps = next[field];
      if (deps && sub.name in deps) deps[sub.name] = spec;
    }
    // The prebuilt providers require("cdktf") and "constructs" themselves: one copy of each, cdktn's.
    // npm requires an override of a direct dependency to equal its spec, which it does.
    if (sub.name === "cdktf" || sub.name === "constructs") overrides[sub.name] = spec;
  }
  next.overrides = overrides;
  // cdktn-cli's binary is `cdktn`; it reads the same cdktf.json.
  if (next.scripts?.synth) next.scripts.synth = next.scripts.synth.replace(/\bcdktf synth\b/, "cdktn synth");
  return next;
}

// ------------------------------------------------------------------------------------------------- the runs

function install(workDir: string, env: NodeJS.ProcessEnv): Outcome {
  const args = ["install", "--no-audit", "--no-fund", "--prefer-offline"];
  const strict = run("npm", args, workDir, 20 * MINUTE, env);
  writeFileSync(join(workDir, "canary-install.log"), strict.output);
  if (strict.status === 0) return { ok: true, detail: "npm install" };
  if (NETWORK_ERROR.test(strict.output)) throw new CanaryError(`npm install: ${firstErrorLine(strict.output)}`);
  // The prebuilt @cdktf providers declare a peer on cdktf ^0.21; cdktn's versions do not satisfy it.
  const loose = run("npm", [...args, "--legacy-peer-deps"], workDir, 20 * MINUTE, env);
  writeFileSync(join(workDir, "canary-install-legacy-peer-deps.log"), loose.output);
  if (loose.status === 0)
    return { ok: true, detail: `only with --legacy-peer-deps; strict install: ${firstErrorLine(strict.output)}` };
  if (NETWORK_ERROR.test(loose.output)) throw new CanaryError(`npm install: ${firstErrorLine(loose.output)}`);
  return {
    ok: false,
    detail: "npm install failed, with and without --legacy-peer-deps",
    firstError: firstErrorLine(loose.output),
  };
}

interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  /** A prebuilt provider's Terraform provider: cdktf builds record it under `cdktf`, cdktn builds under `cdktn`. */
  readonly cdktn?: { readonly provider?: { readonly name: string; readonly version: string } };
  readonly cdktf?: {
    readonly isDeprecated?: boolean;
    readonly provider?: { readonly name: string; readonly version: string };
  };
}

function installed(projectDir: string, name: string): InstalledPackage | undefined {
  const file = join(projectDir, "node_modules", name, "package.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as InstalledPackage) : undefined;
}

/**
 * What each substituted name resolved to in the copy's node_modules (proof the aliases took), and for a
 * prebuilt provider the Terraform provider version it pins, against the real checkout's install.
 */
function resolvedPackages(workDir: string, plan: Plan): string[] {
  return plan.substitutions.map((sub) => {
    const now = installed(workDir, sub.name);
    if (!now) return `${sub.name} → (not installed)`;
    const line = `${sub.name} → ${now.name}@${now.version}`;
    const pinned = (now.cdktn ?? now.cdktf)?.provider;
    if (!pinned) return line;
    const before = installed(ROOT, sub.name)?.cdktf;
    const deprecated = before?.isDeprecated ? ", the cdktf build is marked deprecated" : "";
    return `${line} (Terraform ${pinned.name.replace("registry.terraform.io/", "")} ${before?.provider?.version ?? "?"} → ${pinned.version}${deprecated})`;
  });
}

function typecheck(workDir: string, env: NodeJS.ProcessEnv): Outcome {
  const result = run("npx", ["tsc", "--noEmit", "-p", "tsconfig.json"], workDir, 10 * MINUTE, env);
  writeFileSync(join(workDir, "canary-typecheck.log"), result.output);
  if (result.status === 0) return { ok: true, detail: "tsc --noEmit: no errors" };
  const errors = result.output.split("\n").filter((line) => /error TS\d+/.test(line));
  return {
    ok: false,
    detail: result.timedOut ? "tsc timed out" : `tsc --noEmit: ${errors.length} errors`,
    firstError: errors[0]?.trim() ?? firstErrorLine(result.output),
  };
}

interface VitestJson {
  readonly numPassedTests: number;
  readonly numFailedTests: number;
  readonly numTotalTests: number;
  readonly testResults: readonly {
    readonly name: string;
    readonly message?: string;
    readonly assertionResults: readonly { readonly status: string; readonly failureMessages?: readonly string[] }[];
  }[];
}

function synthTests(workDir: string, env: NodeJS.ProcessEnv): NonNullable<Report["tests"]> {
  const jsonFile = join(workDir, "canary-vitest.json");
  const result = run(
    "npx",
    ["vitest", "run", ...SYNTH_TEST_DIRS, "--reporter=default", "--reporter=json", `--outputFile.json=${jsonFile}`],
    workDir,
    20 * MINUTE,
    env,
  );
  writeFileSync(join(workDir, "canary-vitest.log"), result.output);
  if (!existsSync(jsonFile))
    return {
      outcome: { ok: false, detail: "vitest produced no results", firstError: firstErrorLine(result.output) },
      files: [],
    };
  const json = JSON.parse(readFileSync(jsonFile, "utf8")) as VitestJson;
  const files = json.testResults.map((file): TestFileResult => {
    const failures = file.assertionResults.filter((a) => a.status === "failed");
    const message = failures[0]?.failureMessages?.[0] ?? (file.message || undefined);
    return {
      file: file.name.startsWith(workDir) ? file.name.slice(workDir.length + 1) : file.name,
      passed: file.assertionResults.filter((a) => a.status === "passed").length,
      failed: failures.length + (failures.length === 0 && message ? 1 : 0),
      // A test's failure message starts with the error; its stack follows.
      firstError: message === undefined ? undefined : clip(lines(message)[0] ?? "(no message)"),
    };
  });
  const brokenFiles = files.filter((f) => f.failed > 0);
  const detail =
    `${json.numPassedTests}/${json.numTotalTests} tests passed in ${files.length} files` +
    (brokenFiles.length > 0 ? `, ${brokenFiles.length} files with failures` : "");
  const broken = brokenFiles[0];
  return {
    outcome: broken
      ? { ok: false, detail, firstError: `${broken.file}: ${broken.firstError ?? "failed"}` }
      : { ok: true, detail },
    files,
  };
}

function synth(workDir: string, env: NodeJS.ProcessEnv): Outcome {
  const result = run("npm", ["run", "synth"], workDir, 10 * MINUTE, env);
  writeFileSync(join(workDir, "canary-synth.log"), result.output);
  const manifestFile = join(workDir, "cdktf.out", "manifest.json");
  if (result.status !== 0 || !existsSync(manifestFile))
    return { ok: false, detail: "npm run synth (cdktn synth) failed", firstError: firstErrorLine(result.output) };
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { stacks?: Record<string, unknown> };
  const stacks = Object.keys(manifest.stacks ?? {});
  return { ok: true, detail: `cdktn synth wrote ${stacks.length} stacks: ${stacks.join(", ")}` };
}

// --------------------------------------------------------------------------------------------------- report

function formatOutcome(label: string, outcome: Outcome | undefined): string {
  if (!outcome) return `- ${label}: not run (install failed)`;
  if (outcome.ok) return `- ${label}: ✅ ${outcome.detail}`;
  return `- ${label}: ❌ ${outcome.detail}\n  - first error: \`${outcome.firstError}\``;
}

function formatReport(report: Report): string {
  const { plan } = report;
  const lines = [
    `## CDK Terrain canary: cdktn ${plan.cdktnVersion}`,
    "",
    `Tollgate at ${report.ref} (${report.commit.slice(0, 12)}), with \`cdktf\` replaced by \`cdktn\`.`,
    "",
    "### Substituted",
    ...plan.substitutions
      .filter((s) => s.kind === "replaced")
      .map((s) => `- \`${s.name}\` ${s.from} → \`${s.to}\`${s.note ? ` (${s.note})` : ""}`),
    "",
    "### Not published for cdktn (kept, running on cdktn)",
    ...plan.substitutions.filter((s) => s.kind === "kept").map((s) => `- \`${s.name}@${s.version}\`: ${s.why}`),
    "",
    "### Installed",
    ...report.resolved.map((r) => `- ${r}`),
    "",
    "### Results",
    formatOutcome("install", report.install),
    formatOutcome("type check", report.typecheck),
    formatOutcome(`synth tests (${SYNTH_TEST_DIRS.join(", ")})`, report.tests?.outcome),
    formatOutcome("npm run synth", report.synth),
  ];
  const files = report.tests?.files ?? [];
  if (files.length > 0) {
    lines.push("", "### Synth test files", "", "| file | passed | failed | first error |", "| --- | --- | --- | --- |");
    for (const f of files)
      lines.push(`| ${f.file} | ${f.passed} | ${f.failed} | ${f.firstError?.replaceAll("|", "\\|") ?? ""} |`);
  }
  const blocked = plan.substitutions.filter((s) => s.kind === "kept").map((s) => s.name);
  lines.push(
    "",
    "### Blocks a move to cdktn",
    ...(blocked.length > 0 ? [`- prebuilt providers not yet published under @cdktn: ${blocked.join(", ")}`] : []),
    ...[report.install, report.typecheck, report.tests?.outcome, report.synth]
      .filter((o): o is Extract<Outcome, { ok: false }> => o !== undefined && !o.ok)
      .map((o) => `- ${o.detail}: \`${o.firstError}\``),
  );
  if (lines.at(-1) === "### Blocks a move to cdktn") lines.push("- nothing found");
  return `${lines.join("\n")}\n`;
}

// ----------------------------------------------------------------------------------------------------- main

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const workDir = mkdtempSync(join(tmpdir(), "tollgate-cdktn-canary-"));
  try {
    const commit = copyRepository(options.ref, workDir);
    const packageFile = join(workDir, "package.json");
    const pkg = JSON.parse(readFileSync(packageFile, "utf8")) as PackageJson;
    const plan = planSubstitutions(pkg, options.cdktn);
    writeFileSync(packageFile, `${JSON.stringify(rewritePackageJson(pkg, plan), null, 2)}\n`);

    const env = copyEnv(workDir);
    process.stderr.write(`cdktn canary: installing cdktn ${plan.cdktnVersion} in ${workDir}\n`);
    const installed = install(workDir, env);
    let report: Report = {
      ref: options.ref,
      commit,
      plan,
      resolved: resolvedPackages(workDir, plan),
      install: installed,
      typecheck: undefined,
      tests: undefined,
      synth: undefined,
    };
    if (installed.ok) {
      process.stderr.write("cdktn canary: type check, synth tests, synth\n");
      report = {
        ...report,
        typecheck: typecheck(workDir, env),
        tests: synthTests(workDir, env),
        synth: synth(workDir, env),
      };
    }
    const text = formatReport(report);
    process.stdout.write(text);
    if (options.reportFile) writeFileSync(options.reportFile, text);
    if (options.keep) process.stderr.write(`cdktn canary: kept ${workDir} (logs: canary-*.log)\n`);
  } finally {
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  }
}

try {
  main();
} catch (error) {
  if (!(error instanceof CanaryError)) throw error;
  process.stderr.write(`cdktn canary could not run: ${error.message}\n`);
  process.exitCode = 1;
}
