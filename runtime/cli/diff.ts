/**
 * `tollgate diff <base> <head>`: what a change means for access, for a pull-request review.
 * Each side is a `cdktf.out` directory (every stack and bundle in it), one stack directory, or one
 * bundle file. Reading files is done here; the comparison is `diffSyntheses` in policies/review.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { formatIssue, type SynthBundle, validateSynthBundle } from "../../policies/bundle/index.js";
import {
  diffSyntheses,
  renderMarkdown,
  type ReviewReport,
  type StackSynthesis,
  type Synthesis,
  type TamperFinding,
  type TerraformJson,
  type TerraformPlanJson,
  type ToolCatalog,
} from "../../policies/review/index.js";
import { parseCommandArgs } from "./args.js";
import { BundleFileError, readBundleFile, readJsonFile } from "./bundle-file.js";

/** What `--fail-on` can gate on, and the exit code of each (the most severe one found wins). */
export const GATES = { widening: 3, replace: 4, tamper: 5 } as const;
export type Gate = keyof typeof GATES;

/** Exit code when `--fail-on widening` is set and the change widens access. */
export const EXIT_WIDENING = GATES.widening;

const USAGE = `usage: tollgate diff <base> <head> [--format markdown|json] [--plan [<stack>=]plan.json]... [--tools catalog.json] [--fail-on widening,replace,tamper]

What a change means for access, as a pull-request comment (Markdown) or JSON: effective authority per
scope and per Okta client, guards, limits, routes, and the infrastructure Terraform will change.
  <base>, <head>          a cdktf.out directory, a stack directory (cdktf.out/stacks/<stack>) or a bundle file
  --format <f>            markdown (default) or json (the same rows)
  --plan [<stack>=]<file> \`terraform show -json plan.tfplan\` of the head: Terraform's real actions replace the
                          estimate from cdk.tf.json; name the stack when the head has several; repeatable
  --tools <file>          known tool names per upstream, {"github": ["create_issue", ...]}: concrete rows for them
  --fail-on <gates>       comma-separated (or repeated): widening (access widens, a guard or limit loosens),
                          replace (Terraform will destroy and recreate a resource, a renamed construct ID
                          included), tamper (a bundle's digest does not match its content, or the ConfigMap
                          deploys another bundle than the reviewed one)
exit codes: 0 done, 1 unreadable or invalid input (a bundle without metadata.digest included), 2 usage,
            ${GATES.widening} widening, ${GATES.replace} replace, ${GATES.tamper} tamper (when gated; the most severe wins)`;

class InputError extends Error {}

async function readJson(file: string): Promise<unknown> {
  try {
    return await readJsonFile(file);
  } catch (error) {
    throw error instanceof BundleFileError ? new InputError(error.message) : error;
  }
}

/** A bundle file, digest checked: missing is an input error, a mismatch a tamper finding. */
async function readBundle(
  file: string,
  side: TamperFinding["side"],
): Promise<{ bundle: SynthBundle; tamper?: TamperFinding }> {
  let read;
  try {
    read = await readBundleFile(file);
  } catch (error) {
    throw error instanceof BundleFileError ? new InputError(error.message) : error;
  }
  const result = validateSynthBundle(read.input);
  if (!result.ok)
    throw new InputError(
      `${file}: invalid gateway bundle\n${result.issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`,
    );
  return {
    bundle: result.bundle,
    ...(read.mismatch ? { tamper: { side, where: file, message: formatIssue(read.mismatch) } } : {}),
  };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    throw new InputError(`${path}: no such file or directory (expected a cdktf.out directory or a bundle file)`);
  }
}

async function readStackDir(dir: string, side: TamperFinding["side"]): Promise<StackSynthesis> {
  const entries = (await readdir(dir)).sort();
  const read = await Promise.all(
    entries.filter((f) => f.endsWith(".bundle.json")).map((f) => readBundle(join(dir, f), side)),
  );
  const terraform = entries.includes("cdk.tf.json")
    ? ((await readJson(join(dir, "cdk.tf.json"))) as TerraformJson)
    : undefined;
  const tamper = read.flatMap((r) => (r.tamper ? [r.tamper] : []));
  return {
    name: basename(dir),
    bundles: read.map((r) => r.bundle),
    ...(terraform ? { terraform } : {}),
    ...(tamper.length > 0 ? { tamper } : {}),
  };
}

/** Reads one side: a cdktf.out directory, a stack directory, or a lone bundle file. */
export async function readSynthesis(path: string, side: TamperFinding["side"] = "head"): Promise<Synthesis> {
  if (!(await isDirectory(path))) {
    const { bundle, tamper } = await readBundle(path, side);
    return { stacks: [{ name: bundle.metadata.stack, bundles: [bundle], ...(tamper ? { tamper: [tamper] } : {}) }] };
  }
  const stacksDir = join(path, "stacks");
  const hasStacks = await stat(stacksDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!hasStacks) {
    const stack = await readStackDir(path, side);
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
  return { stacks: await Promise.all(names.map((n) => readStackDir(join(stacksDir, n), side))) };
}

async function readCatalog(file: string): Promise<ToolCatalog> {
  const value = await readJson(file);
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
    const plan = (await readJson(file)) as TerraformPlanJson;
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

/** `--fail-on` values, comma-separated or repeated; an unknown one is a usage error naming the known ones. */
function parseGates(values: readonly string[]): Gate[] | string {
  const gates = values.flatMap((v) => v.split(",")).map((v) => v.trim());
  const unknown = gates.filter((g) => !(g in GATES));
  if (unknown.length > 0)
    return `--fail-on takes ${Object.keys(GATES).join(", ")} (comma-separated), got "${unknown.join(",")}"`;
  return [...new Set(gates as Gate[])];
}

/** Each gate the report trips, with a line saying why. */
export function trippedGates(report: ReviewReport, gates: readonly Gate[]): { gate: Gate; why: string }[] {
  const why: Record<Gate, string | undefined> = {
    widening: report.summary.widening > 0 ? `${report.summary.widening} widening change(s)` : undefined,
    replace:
      report.summary.replaced.length > 0
        ? `Terraform will destroy and recreate ${report.summary.replaced.join(", ")}`
        : undefined,
    tamper:
      report.tamper.length > 0
        ? `tampered bundle: ${report.tamper.map((t) => `${t.side} ${t.where}`).join("; ")}`
        : undefined,
  };
  return gates.flatMap((gate) => (why[gate] ? [{ gate, why: why[gate] }] : []));
}

export async function diffCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "diff",
    args,
    {
      format: { type: "string", default: "markdown" },
      plan: { type: "string", multiple: true },
      tools: { type: "string" },
      "fail-on": { type: "string", multiple: true },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const [basePath, headPath, ...extra] = parsed.positionals;
  const { format, plan = [], tools, "fail-on": failOn = [] } = parsed.values;
  if (!basePath || !headPath || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }
  if (format !== "markdown" && format !== "json") {
    console.error(`tollgate diff: --format must be markdown or json, got "${format}"\n\n${USAGE}`);
    return 2;
  }
  const gates = parseGates(failOn);
  if (typeof gates === "string") {
    console.error(`tollgate diff: ${gates}\n\n${USAGE}`);
    return 2;
  }
  try {
    const [base, head] = await Promise.all([readSynthesis(basePath, "base"), readSynthesis(headPath, "head")]);
    const report = diffSyntheses(base, head, {
      ...(tools ? { catalog: await readCatalog(tools) } : {}),
      plans: await readPlans(plan, head),
    });
    process.stdout.write(format === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderMarkdown(report));
    const tripped = trippedGates(report, gates);
    for (const t of tripped) console.error(`tollgate diff: ${t.why} (--fail-on ${t.gate})`);
    return Math.max(0, ...tripped.map((t) => GATES[t.gate]));
  } catch (error) {
    if (error instanceof InputError) {
      console.error(`tollgate diff: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
