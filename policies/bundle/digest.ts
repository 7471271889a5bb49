import { createHash } from "node:crypto";

/** JSON with object keys sorted at every level: the form the digest is computed over. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

type WithMetadata = { metadata: { digest?: string } & Record<string, unknown> } & Record<string, unknown>;

/** `sha256:<hex>` over the canonical JSON of the bundle without `metadata.digest`. */
export function computeDigest(bundle: WithMetadata): string {
  const { digest: _omitted, ...metadata } = bundle.metadata;
  const hash = createHash("sha256")
    .update(canonicalJson({ ...bundle, metadata }))
    .digest("hex");
  return `sha256:${hash}`;
}

/** The same bundle with `metadata.digest` set. */
export function withDigest<T extends WithMetadata>(bundle: T): T {
  return { ...bundle, metadata: { ...bundle.metadata, digest: computeDigest(bundle) } };
}
