import { z } from "zod";
import { findKnownCredential } from "../secrets/known-formats.js";
import { computeDigest } from "./digest.js";
import { BundleError, type BundleIssue, issuesFromZod } from "./errors.js";
import { type Overlay, OverlaySchema, applyOverlay } from "./overlay.js";
import { type ApplyValues, substitutePlaceholders } from "./placeholders.js";
import { type Bundle, RuntimeBundleSchema, SynthBundleSchema } from "./schema.js";

export type SynthBundle = z.output<typeof SynthBundleSchema>;

export type Validation<T> = { ok: true; bundle: T } | { ok: false; issues: BundleIssue[] };

/** Strings in the bundle that look like a credential: the bundle must only reference secrets. */
function secretLiteralIssues(input: unknown): BundleIssue[] {
  const issues: BundleIssue[] = [];
  const walk = (node: unknown, path: string): void => {
    if (typeof node === "string") {
      const format = findKnownCredential(node);
      if (format)
        issues.push({
          path,
          message: `looks like a ${format.description}: the bundle must never hold a secret`,
          fix: 'reference it instead: { env: "NAME" } or { file: "/path" }',
        });
    } else if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`));
    else if (node !== null && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
    }
  };
  walk(input, "");
  return issues;
}

const DIGEST_FIX = "the bundle was edited after synth: re-run cdktf synth instead of editing it";

function digestIssues(input: unknown, required: boolean): BundleIssue[] {
  const metadata = (input as { metadata?: { digest?: unknown } } | null)?.metadata;
  if (metadata?.digest === undefined && required)
    return [
      {
        path: "metadata.digest",
        message: "missing: the gateway loads a bundle only with the digest cdktf synth writes into it",
        fix: "re-run cdktf synth and deploy the bundle it writes, unedited",
      },
    ];
  if (typeof metadata?.digest !== "string") return [];
  const actual = computeDigest(input as Parameters<typeof computeDigest>[0]);
  return actual === metadata.digest
    ? []
    : [
        {
          path: "metadata.digest",
          message: `does not match the content (expected ${actual})`,
          fix: DIGEST_FIX,
        },
      ];
}

/** Validation at synth: structure, references, no secret literal; placeholders allowed where apply-time. */
export function validateSynthBundle(input: unknown): Validation<SynthBundle> {
  const secrets = secretLiteralIssues(input);
  const parsed = SynthBundleSchema.safeParse(input);
  if (!parsed.success || secrets.length > 0) {
    return { ok: false, issues: [...(parsed.success ? [] : issuesFromZod(parsed.error)), ...secrets] };
  }
  return { ok: true, bundle: parsed.data };
}

export interface LoadOptions {
  /** Values for apply-time placeholders (the ConfigMap's values.json). */
  readonly values?: ApplyValues;
  /** A local overlay (values plus stand-in transports). */
  readonly overlay?: unknown;
  /**
   * Refuse a bundle without `metadata.digest`. Set for every bundle read from a file (the gateway's load
   * path, `tollgate validate --runtime`): a bundle stripped of its digest could carry any edit.
   * @default false (bundles built in memory, which have no reviewed form)
   */
  readonly requireDigest?: boolean;
}

/**
 * Validation at load: the digest matches the reviewed content, placeholders are substituted and none
 * remains, structure and references hold, no secret literal. Pure: reading files is the caller's job.
 */
export function validateRuntimeBundle(input: unknown, options: LoadOptions = {}): Validation<Bundle> {
  const issues: BundleIssue[] = [...digestIssues(input, options.requireDigest ?? false)];
  let overlay: Overlay | undefined;
  if (options.overlay !== undefined) {
    const parsedOverlay = OverlaySchema.safeParse(options.overlay);
    if (!parsedOverlay.success) {
      return {
        ok: false,
        issues: issuesFromZod(parsedOverlay.error).map((i) => ({
          ...i,
          path: `overlay.${i.path}`,
          fix: "fix the local overlay file",
        })),
      };
    }
    overlay = parsedOverlay.data;
  }
  const values = { ...(overlay?.values ?? {}), ...(options.values ?? {}) };
  const substituted = substitutePlaceholders(input, values);
  for (const { path, name } of substituted.unresolved) {
    issues.push({
      path,
      message: `placeholder {{apply:${name}}} has no value`,
      fix: `supply "${name}" in values.json (rendered by Terraform) or the local overlay`,
    });
  }
  let candidate = substituted.value;
  if (overlay) {
    const applied = applyOverlay(candidate as Parameters<typeof applyOverlay>[0], overlay);
    for (const name of applied.unknown)
      issues.push({
        path: `overlay.${name}`,
        message: "names nothing in the bundle",
        fix: "use an upstream id or routeId/providerId from the bundle",
      });
    candidate = applied.bundle;
  }
  if (issues.length > 0) return { ok: false, issues };
  const secrets = secretLiteralIssues(candidate);
  const parsed = RuntimeBundleSchema.safeParse(candidate);
  if (!parsed.success || secrets.length > 0) {
    return { ok: false, issues: [...(parsed.success ? [] : issuesFromZod(parsed.error)), ...secrets] };
  }
  return { ok: true, bundle: parsed.data };
}

/** Parses JSON text, turning a syntax error into a bundle issue. */
export function parseJson(text: string): Validation<unknown> {
  try {
    return { ok: true, bundle: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, issues: [{ path: "", message: `not valid JSON: ${(error as Error).message}` }] };
  }
}

export function orThrow<T>(result: Validation<T>, source?: string): T {
  if (!result.ok) throw new BundleError(result.issues, source);
  return result.bundle;
}
