/** A container image reference. Non-dev environments must pin by digest (TG-IMG-001). */
export interface ContainerImage {
  /** Repository, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/tollgate` or `ghcr.io/acme/tollgate`. */
  readonly repository: string;
  /** `sha256:<64 hex>`: the image is pinned. */
  readonly digest?: string;
  /** A tag, accepted in dev only (tags are mutable). */
  readonly tag?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `repository@digest` when pinned, else `repository:tag` (default tag `latest`). */
export function imageReference(image: ContainerImage): string {
  return image.digest ? `${image.repository}@${image.digest}` : `${image.repository}:${image.tag ?? "latest"}`;
}

/** True when the image is addressed by a well-formed digest. */
export function isPinned(image: ContainerImage): boolean {
  return image.digest !== undefined && DIGEST.test(image.digest);
}

/** Problems with the reference itself, whatever the environment. */
export function imageProblems(image: ContainerImage, prop: string): string[] {
  const problems: string[] = [];
  if (image.digest !== undefined && !DIGEST.test(image.digest))
    problems.push(`${prop}.digest: expected sha256:<64 hex digits>, got ${JSON.stringify(image.digest)}`);
  if (image.digest !== undefined && image.tag !== undefined) problems.push(`${prop}: set digest or tag, not both`);
  if (/[@]/.test(image.repository) || /:[^/]*$/.test(image.repository.replace(/^[^/]*\//, ""))) {
    problems.push(
      `${prop}.repository: give the repository without tag or digest, got ${JSON.stringify(image.repository)}`,
    );
  }
  return problems;
}
