/**
 * Reading a bundle file for any subcommand: JSON, then the digest rule the gateway applies at load
 * (`metadata.digest` present and matching the content). A bundle without its digest is refused with the
 * fix; a mismatch is returned for the caller to refuse (validate, explain) or report as tampering (diff).
 */
import { readFile } from "node:fs/promises";
import { type BundleIssue, formatIssue, parseJson } from "../../policies/bundle/index.js";
import { digestIssue } from "../../policies/review/index.js";

/** A file that cannot be used, with a message naming the file and the fix. */
export class BundleFileError extends Error {}

export async function readJsonFile(file: string, what = ""): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new BundleFileError(
      `${what}${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  const parsed = parseJson(text);
  if (!parsed.ok) throw new BundleFileError(`${what}${file}: ${parsed.issues[0]?.message}`);
  return parsed.bundle;
}

/**
 * A bundle file's JSON and its digest mismatch, if any. A missing (or non-string) digest throws: there is
 * nothing to check the content against, so nothing about it can be trusted.
 */
export async function readBundleFile(file: string): Promise<{ input: unknown; mismatch?: BundleIssue }> {
  const input = await readJsonFile(file);
  const issue = digestIssue(input);
  const digest = (input as { metadata?: { digest?: unknown } } | null)?.metadata?.digest;
  if (issue && typeof digest !== "string") throw new BundleFileError(`${file}: ${formatIssue(issue)}`);
  return { input, ...(issue ? { mismatch: issue } : {}) };
}
