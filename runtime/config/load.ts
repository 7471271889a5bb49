/**
 * Loads a bundle for the runtime: reads the bundle, values and overlay files, validates with the
 * shared schema (load-time rules: no placeholder left, a bundle file carries its digest and the digest
 * matches), reads the referenced secrets.
 */
import { readFile } from "node:fs/promises";
import { type BundleIssue, computeDigest, parseJson, validateRuntimeBundle } from "../../policies/bundle/index.js";
import type { ActiveConfig } from "../http/types.js";
import { type Environment, readSecrets } from "./secrets.js";

/**
 * Where a bundle comes from: files (watched by `serve`; the bundle must carry the digest synth wrote), or
 * values in memory (tests, embedding; a digest is checked when present).
 */
export type BundleSource =
  | { readonly kind: "files"; readonly bundleFile: string; readonly valuesFile?: string; readonly overlayFile?: string }
  | {
      readonly kind: "inline";
      readonly bundle: unknown;
      readonly values?: Readonly<Record<string, string>>;
      readonly overlay?: unknown;
    };

export type LoadResult =
  /** `fingerprint` changes when the bundle or a secret value changes: a reload with the same one is a no-op. */
  | { readonly ok: true; readonly config: ActiveConfig; readonly fingerprint: string }
  | { readonly ok: false; readonly source: string; readonly issues: readonly BundleIssue[] };

export function describeSource(source: BundleSource): string {
  return source.kind === "files" ? source.bundleFile : "inline bundle";
}

async function readJsonFile(
  file: string,
  what: string,
): Promise<{ ok: true; value: unknown } | { ok: false; issue: BundleIssue }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return {
      ok: false,
      issue: {
        path: "",
        message: `${what} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      },
    };
  }
  const parsed = parseJson(text);
  if (!parsed.ok)
    return { ok: false, issue: { path: "", message: `${what} ${file}: ${parsed.issues[0]?.message ?? "not JSON"}` } };
  return { ok: true, value: parsed.bundle };
}

export async function loadConfig(source: BundleSource, env: Environment): Promise<LoadResult> {
  const name = describeSource(source);
  let bundle: unknown;
  let values: Record<string, string> | undefined;
  let overlay: unknown;
  if (source.kind === "files") {
    const files = await Promise.all([
      readJsonFile(source.bundleFile, "bundle"),
      source.valuesFile ? readJsonFile(source.valuesFile, "values") : undefined,
      source.overlayFile ? readJsonFile(source.overlayFile, "overlay") : undefined,
    ]);
    const issues = files.flatMap((f) => (f && !f.ok ? [f.issue] : []));
    if (issues.length > 0) return { ok: false, source: name, issues };
    bundle = (files[0] as { value: unknown }).value;
    const valuesValue = (files[1] as { value: unknown } | undefined)?.value;
    if (valuesValue !== undefined) {
      if (
        valuesValue === null ||
        typeof valuesValue !== "object" ||
        Array.isArray(valuesValue) ||
        Object.values(valuesValue).some((v) => typeof v !== "string")
      ) {
        return {
          ok: false,
          source: name,
          issues: [
            {
              path: "",
              message: `values ${source.valuesFile}: expected an object of strings ({ "okta.issuer": "https://…" })`,
            },
          ],
        };
      }
      values = valuesValue as Record<string, string>;
    }
    overlay = (files[2] as { value: unknown } | undefined)?.value;
  } else {
    bundle = source.bundle;
    values = source.values ? { ...source.values } : undefined;
    overlay = source.overlay;
  }

  const validated = validateRuntimeBundle(bundle, {
    requireDigest: source.kind === "files",
    ...(values ? { values } : {}),
    ...(overlay !== undefined ? { overlay } : {}),
  });
  if (!validated.ok) return { ok: false, source: name, issues: validated.issues };
  const secrets = readSecrets(validated.bundle, env);
  if (!secrets.ok) return { ok: false, source: name, issues: secrets.issues };
  // The resolved content (values and overlay applied) decides whether anything changed; `digest` is the reviewed one.
  const resolved = computeDigest(validated.bundle as unknown as Parameters<typeof computeDigest>[0]);
  const digest = validated.bundle.metadata.digest ?? resolved;
  return {
    ok: true,
    config: { bundle: validated.bundle, digest, secrets: secrets.reader },
    fingerprint: `${resolved}/${secrets.fingerprint}`,
  };
}
