import {
  type BundleIssue,
  formatIssue,
  validateRuntimeBundle,
  validateSynthBundle,
} from "../../policies/bundle/index.js";
import { parseCommandArgs } from "./args.js";
import { BundleFileError, readBundleFile, readJsonFile } from "./bundle-file.js";

const USAGE = `usage: tollgate validate <bundle.json> [--values values.json] [--overlay overlay.json] [--runtime]

Checks a gateway bundle: its digest (present and matching the content: the bundle is what synth wrote),
then synth-time rules (structure, references, no secret; placeholders allowed where a value is apply-time).
  --runtime          apply the gateway's load-time rules instead: every placeholder must have a value
  --values <file>    values for the apply-time placeholders (implies --runtime)
  --overlay <file>   a local overlay (implies --runtime)
exit codes: 0 valid, 1 invalid (each problem names the field and the fix), 2 usage`;

/** `tollgate validate <bundle>`: the digest, then synth-time rules by default or load-time rules. */
export async function validateCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "validate",
    args,
    {
      values: { type: "string" },
      overlay: { type: "string" },
      runtime: { type: "boolean", default: false },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const runtime = parsed.values.runtime || parsed.values.values !== undefined || parsed.values.overlay !== undefined;
  let result;
  let digestIssues: BundleIssue[] = [];
  try {
    const bundle = await readBundleFile(file);
    // A content that no longer matches its digest is reported with every other problem the rules find.
    if (bundle.mismatch) digestIssues = [bundle.mismatch];
    if (runtime) {
      const values = parsed.values.values ? await readJsonFile(parsed.values.values) : undefined;
      const overlay = parsed.values.overlay ? await readJsonFile(parsed.values.overlay) : undefined;
      result = validateRuntimeBundle(bundle.input, {
        requireDigest: true,
        ...(values !== undefined ? { values: values as Record<string, string> } : {}),
        ...(overlay !== undefined ? { overlay } : {}),
      });
    } else {
      result = validateSynthBundle(bundle.input);
    }
  } catch (error) {
    if (!(error instanceof BundleFileError)) throw error;
    console.error(error.message);
    return 1;
  }
  const issues = [...digestIssues, ...(result.ok ? [] : result.issues.filter((i) => !digestIssues.includes(i)))];
  if (!result.ok || issues.length > 0) {
    console.error(`${file}: invalid gateway bundle`);
    for (const issue of new Map(issues.map((i) => [formatIssue(i), i])).keys()) console.error(`  - ${issue}`);
    return 1;
  }
  console.log(`${file}: valid (${runtime ? "load-time" : "synth-time"} rules), ${result.bundle.metadata.digest}`);
  return 0;
}
