/**
 * `tollgate diff <base> <head>`: what a change means for access, for a pull-request review.
 * Each side is a `cdktf.out` directory (every stack and bundle in it), one stack directory, or one
 * bundle file. Reading files is done here; the comparison is `diffSyntheses` in policies/review.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { formatIssue, parseJson, type SynthBundle, validateSynthBundle } from "../../policies/bundle/index.js";
import {
  diffSyntheses,
  renderMarkdown,
  type StackSynthesis,
  type Synthesis,
  type TerraformJson,
  type TerraformPlanJson,
  type ToolCatalog,
} from "../../policies/review/index.js";
import { parseCommandArgs } from "./args.js";

const USAGE =
  "usage: tollgate diff <base> <head> [--format markdown|json] [--plan [<stack>=]plan.json]... [--tools catalog.json] [--fail-on widening]\n" +
  "  <base>, <head>: a cdktf.out directory, a stack directory (cdktf.out/stacks/<stack>) or a bundle file\n" +
  "  exit codes: 0 done, 1 unreadable or invalid input, 2 usage, 3 --fail-on widening and the change widens access";

/** Exit code when `--fail-on widening` is set and the change widens access. */
export const EXIT_WIDENING = 3;

class InputError extends Error {}

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new InputError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const parsed = parseJson(text);
  if (!parsed.ok) throw new InputError(`${file}: ${parsed.issues[0]?.message}`);
  return parsed.bundle;
}

async function readBundle(file: string): Promise<SynthBundle> {
  const result = validateSynthBundle(await readJsonFile(file));
  if (!result.ok)
    throw new InputError(
      `${file}: invalid gateway bundle\n${result.issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`,
    );
  return result.bundle;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    throw new InputError(`${path}: no such file or directory (expected a cdktf.out directory or a bundle file)`);
  }
}

async function readStackDir(dir: string): Promise<StackSynthesis> {
  const entries = (await readdir(dir)).sort();
  const bundles = await Promise.all(
    entries.filter((f) => f.endsWith(".bundle.json")).map((f) => readBundle(join(dir, f))),
  );
  const terraform = entries.includes("cdk.tf.json")
    ? ((await readJsonFile(join(dir, "cdk.tf.json"))) as TerraformJson)
    : undefined;
  return { name: basename(dir), bundles, ...(terraform ? { terraform } : {}) };
}

/** Reads one side: a cdktf.out directory, a stack directory, or a lone bundle file. */
export async function readSynthesis(path: string): Promise<Synthesis> {
  if (!(await isDirectory(path))) {
    const bundle = await readBundle(path);
    return { stacks: [{ name: bundle.metadata.stack, bundles: [bundle] }] };
  }
  const stacksDir = join(path, "stacks");
  const hasStacks = await stat(stacksDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!hasStacks) {
    const stack = await readStackDir(path);
    if (!stack.terraform && stack.bundles.length === 0)
      throw new InputError(
        `${path}: neither a cdktf.out directory (no stacks/) nor a stack directory (no cdk.tf.json or *.bundle.json)`,
      );
    return { stacks: [stack] };
  }
  const names = (await readdir(stacksDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return { stacks: await Promise.all(names.map((n) => readStackDir(join(stacksDir, n)))) };
}

async function readCatalog(file: string): Promise<ToolCatalog> {
  const value = await readJsonFile(file);
  const ok =
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.values(value).every((names) => Array.isArray(names) && names.every((n) => typeof n === "string"));
  if (!ok)
    throw new InputError(
      `${file}: expected a tool catalogue such as {"github": ["create_issue", "merge_pull_request"]} (upstream id → tool names)`,
    );
  return value as ToolCatalog;
}

async function readPlans(specs: readonly string[], head: Synthesis): Promise<Map<string, TerraformPlanJson>> {
  const plans = new Map<string, TerraformPlanJson>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    let stack = eq > 0 ? spec.slice(0, eq) : undefined;
    const file = eq > 0 ? spec.slice(eq + 1) : spec;
    const withTerraform = head.stacks.filter((s) => s.terraform).map((s) => s.name);
    if (stack === undefined) {
      if (withTerraform.length !== 1)
        throw new InputError(
          `--plan ${spec}: the head has ${withTerraform.length} stacks (${withTerraform.join(", ")}); name one: --plan <stack>=${file}`,
        );
      stack = withTerraform[0]!;
    } else if (!head.stacks.some((s) => s.name === stack)) {
      throw new InputError(
        `--plan ${spec}: no stack "${stack}" in the head (stacks: ${head.stacks.map((s) => s.name).join(", ")})`,
      );
    }
    const plan = (await readJsonFile(file)) as TerraformPlanJson;
    if (
      plan === null ||
      typeof plan !== "object" ||
      (plan.resource_changes !== undefined && !Array.isArray(plan.resource_changes))
    ) {
      throw new InputError(
        `${file}: expected the output of \`terraform show -json plan.tfplan\` (with resource_changes)`,
      );
    }
    plans.set(stack, plan);
  }
  return plans;
}

export async function diffCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("diff", args, {
    format: { type: "string", default: "markdown" },
    plan: { type: "string", multiple: true },
    tools: { type: "string" },
    "fail-on": { type: "string" },
  });
  if (!parsed) return 2;
  const [basePath, headPath, ...extra] = parsed.positionals;
  const { format, plan = [], tools, "fail-on": failOn } = parsed.values;
  if (!basePath || !headPath || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }
  if (format !== "markdown" && format !== "json") {
    console.error(`tollgate diff: --format must be markdown or json, got "${format}"`);
    return 2;
  }
  if (failOn !== undefined && failOn !== "widening") {
    console.error(`tollgate diff: --fail-on accepts only "widening", got "${failOn}"`);
    return 2;
  }
  try {
    const [base, head] = await Promise.all([readSynthesis(basePath), readSynthesis(headPath)]);
    const report = diffSyntheses(base, head, {
      ...(tools ? { catalog: await readCatalog(tools) } : {}),
      plans: await readPlans(plan, head),
    });
    process.stdout.write(format === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderMarkdown(report));
    if (failOn === "widening" && report.summary.widening > 0) {
      console.error(`tollgate diff: ${report.summary.widening} widening change(s) (--fail-on widening)`);
      return EXIT_WIDENING;
    }
    return 0;
  } catch (error) {
    if (error instanceof InputError) {
      console.error(`tollgate diff: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
