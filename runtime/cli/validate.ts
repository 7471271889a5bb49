import { readFile } from "node:fs/promises";
import { formatIssue, parseJson, validateRuntimeBundle, validateSynthBundle } from "../../policies/bundle/index.js";
import { parseCommandArgs } from "./args.js";

async function readJson(file: string): Promise<{ ok: true; value: unknown } | { ok: false; message: string }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return {
      ok: false,
      message: `${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    };
  }
  const parsed = parseJson(text);
  return parsed.ok
    ? { ok: true, value: parsed.bundle }
    : { ok: false, message: `${file}: ${parsed.issues[0]?.message}` };
}

/** `tollgate validate <bundle>`: synth-time rules by default; `--runtime` (or values/overlay) applies load-time rules. */
export async function validateCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("validate", args, {
    values: { type: "string" },
    overlay: { type: "string" },
    runtime: { type: "boolean", default: false },
  });
  if (!parsed) return 2;
  const file = parsed.positionals[0];
  if (!file) {
    console.error("usage: tollgate validate <bundle.json> [--values values.json] [--overlay overlay.json] [--runtime]");
    return 2;
  }
  const bundle = await readJson(file);
  if (!bundle.ok) {
    console.error(bundle.message);
    return 1;
  }
  const runtime = parsed.values.runtime || parsed.values.values !== undefined || parsed.values.overlay !== undefined;
  let result;
  if (runtime) {
    const values = parsed.values.values ? await readJson(parsed.values.values) : undefined;
    const overlay = parsed.values.overlay ? await readJson(parsed.values.overlay) : undefined;
    for (const extra of [values, overlay]) {
      if (extra && !extra.ok) {
        console.error(extra.message);
        return 1;
      }
    }
    result = validateRuntimeBundle(bundle.value, {
      ...(values?.ok ? { values: values.value as Record<string, string> } : {}),
      ...(overlay?.ok ? { overlay: overlay.value } : {}),
    });
  } else {
    result = validateSynthBundle(bundle.value);
  }
  if (!result.ok) {
    console.error(`${file}: invalid gateway bundle`);
    for (const issue of result.issues) console.error(`  - ${formatIssue(issue)}`);
    return 1;
  }
  console.log(
    `${file}: valid (${runtime ? "load-time" : "synth-time"} rules)${result.bundle.metadata.digest ? `, ${result.bundle.metadata.digest}` : ""}`,
  );
  return 0;
}
