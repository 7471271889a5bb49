/**
 * Apply-time placeholders.
 *
 * Some bundle values exist only after `terraform apply` (the Okta issuer, client IDs, the gateway URL).
 * The bundle written at synth carries them as `{{apply:NAME}}`; the Kubernetes ConfigMap carries the
 * same bundle byte for byte plus a `values.json` that Terraform renders with the real values. The runtime
 * substitutes the values, validates again and refuses anything still unresolved. The reviewed bundle and
 * the deployed bundle are therefore the same file, and its digest can be checked at load.
 */

/** Names are dotted lower-case words, e.g. `okta.issuer`, `okta.clients.agent.id`. */
export const PLACEHOLDER_NAME = /^[a-z][a-zA-Z0-9_-]*(\.[a-zA-Z0-9_-]+)*$/;
const PLACEHOLDER_EXACT = /^\{\{apply:([a-z][a-zA-Z0-9_-]*(?:\.[a-zA-Z0-9_-]+)*)\}\}$/;
const PLACEHOLDER_ANYWHERE = /\{\{apply:([^}]*)\}\}/g;

export function placeholder(name: string): string {
  if (!PLACEHOLDER_NAME.test(name)) {
    throw new Error(`placeholder name "${name}" must be dotted words like "okta.issuer"`);
  }
  return `{{apply:${name}}}`;
}

/** The placeholder name if `value` is exactly one placeholder, else undefined. */
export function placeholderName(value: string): string | undefined {
  return PLACEHOLDER_EXACT.exec(value)?.[1];
}

export function containsPlaceholder(value: string): boolean {
  PLACEHOLDER_ANYWHERE.lastIndex = 0;
  return PLACEHOLDER_ANYWHERE.test(value);
}

/** Values for placeholders, by name (the ConfigMap's `values.json`, or a local overlay's `values`). */
export type ApplyValues = Readonly<Record<string, string>>;

export interface Substitution {
  readonly value: unknown;
  /** JSON paths (`auth.issuer`) whose placeholder had no value. */
  readonly unresolved: readonly { path: string; name: string }[];
}

/** Replaces every exact placeholder string in a JSON value. Pure; does not mutate its input. */
export function substitutePlaceholders(input: unknown, values: ApplyValues): Substitution {
  const unresolved: { path: string; name: string }[] = [];
  const walk = (node: unknown, path: string): unknown => {
    if (typeof node === "string") {
      const name = placeholderName(node);
      if (name === undefined) return node;
      const resolved = values[name];
      if (resolved === undefined) {
        unresolved.push({ path, name });
        return node;
      }
      return resolved;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, `${path}[${i}]`));
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(
        Object.entries(node).map(([key, child]) => [key, walk(child, path ? `${path}.${key}` : key)]),
      );
    }
    return node;
  };
  return { value: walk(input, ""), unresolved };
}

/** Every placeholder name used in a JSON value, sorted and unique. */
export function listPlaceholders(input: unknown): string[] {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (typeof node === "string") {
      const name = placeholderName(node);
      if (name !== undefined) names.add(name);
    } else if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === "object") Object.values(node).forEach(walk);
  };
  walk(input);
  return [...names].sort();
}
