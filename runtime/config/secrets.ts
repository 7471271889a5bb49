/**
 * Secrets referenced by the bundle (`{ env: NAME }` or `{ file: /path }`), read once at load.
 * A missing secret fails the load with the bundle path and the variable or file; a request never
 * discovers a missing secret. Values never appear in errors or logs.
 *
 * Where the deployment mounts its Secret as files (`TOLLGATE_SECRETS_DIR`, as GatewayDeployment does),
 * `{ env: NAME }` is read from the file NAME there first: the server watches that directory, so a rotated
 * key is loaded by a reload instead of waiting for a pod restart (environment variables never change).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BundleIssue, SecretRef } from "../../policies/bundle/index.js";
import type { SecretReader } from "../http/types.js";

export type Environment = Readonly<Record<string, string | undefined>>;

/** The environment variable naming the directory where the deployment mounts its secrets, one file per key. */
export const SECRETS_DIR_VARIABLE = "TOLLGATE_SECRETS_DIR";

/** The mounted secrets directory, when the deployment provides one. */
export function secretsDirectory(env: Environment): string | undefined {
  return env[SECRETS_DIR_VARIABLE] || undefined;
}

/** `{ env: NAME }` from the mounted file NAME, when there is one (names are plain variable names: no path). */
function readMounted(directory: string | undefined, name: string): string | undefined {
  if (directory === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
  try {
    return readFileSync(join(directory, name), "utf8").replace(/\r?\n$/, "");
  } catch {
    return undefined;
  }
}

function isSecretRef(node: unknown): node is SecretRef {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return false;
  const keys = Object.keys(node);
  if (keys.length !== 1) return false;
  const value = (node as Record<string, unknown>)[keys[0] as string];
  return (keys[0] === "env" || keys[0] === "file") && typeof value === "string";
}

/** Every secret reference in a bundle, with its JSON path. */
export function findSecretRefs(bundle: unknown): { path: string; ref: SecretRef }[] {
  const found: { path: string; ref: SecretRef }[] = [];
  const walk = (node: unknown, path: string): void => {
    if (isSecretRef(node)) found.push({ path, ref: node });
    else if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`));
    else if (node !== null && typeof node === "object")
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(bundle, "");
  return found;
}

const refKey = (ref: SecretRef): string => ("env" in ref ? `env:${ref.env}` : `file:${ref.file}`);

/**
 * Reads every secret the bundle references. Returns a reader over the values read, or the issues
 * (one per missing secret).
 */
export function readSecrets(
  bundle: unknown,
  env: Environment,
): { ok: true; reader: SecretReader; fingerprint: string } | { ok: false; issues: BundleIssue[] } {
  const values = new Map<string, string>();
  const issues: BundleIssue[] = [];
  const directory = secretsDirectory(env);
  for (const { path, ref } of findSecretRefs(bundle)) {
    const key = refKey(ref);
    if (values.has(key)) continue;
    if ("env" in ref) {
      const value = readMounted(directory, ref.env) ?? env[ref.env];
      if (value === undefined || value === "")
        issues.push({
          path,
          message: `environment variable ${ref.env} is not set`,
          fix: `set ${ref.env} in the gateway's environment (Kubernetes: the Secret it references)`,
        });
      else values.set(key, value);
    } else {
      try {
        values.set(key, readFileSync(ref.file, "utf8").replace(/\r?\n$/, ""));
      } catch (error) {
        issues.push({
          path,
          message: `secret file ${ref.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
          fix: "mount the secret at that path",
        });
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  // A hash of the values, so a reload can tell that a mounted secret changed without keeping a copy around.
  const hash = createHash("sha256");
  for (const [key, value] of [...values].sort(([a], [b]) => a.localeCompare(b))) hash.update(`${key}\0${value}\0`);
  return {
    ok: true,
    fingerprint: hash.digest("hex"),
    reader: {
      read(ref) {
        const value = values.get(refKey(ref));
        if (value === undefined)
          throw new Error(
            `secret ${"env" in ref ? ref.env : ref.file} was not read at load: it is not referenced by the bundle`,
          );
        return value;
      },
    },
  };
}
