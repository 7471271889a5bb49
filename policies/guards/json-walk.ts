/**
 * Applies a text guard to every string inside a JSON value (MCP tool arguments and results), keeping
 * the structure. Object keys are left alone; they are names, not content.
 */
import type { TextVerdict } from "./verdict.js";

export type JsonVerdict<T> =
  | { readonly action: "allow"; readonly value: T; readonly redactions?: Readonly<Record<string, number>> }
  | { readonly action: "block"; readonly guard: string; readonly message: string };

/** Walks `value` depth-first; the first block wins; redaction counts add up. Values are copied only when changed. */
export async function guardJsonStrings<T>(
  value: T,
  guard: (text: string) => TextVerdict | Promise<TextVerdict>,
): Promise<JsonVerdict<T>> {
  const counts: Record<string, number> = {};
  let blocked: { guard: string; message: string } | undefined;
  const walk = async (node: unknown, depth: number): Promise<unknown> => {
    if (blocked) return node;
    if (typeof node === "string") {
      const verdict = await guard(node);
      if (verdict.action === "block") {
        blocked = { guard: verdict.guard, message: verdict.message };
        return node;
      }
      for (const [kind, n] of Object.entries(verdict.redactions ?? {})) counts[kind] = (counts[kind] ?? 0) + n;
      return verdict.value;
    }
    if (depth > 64 || node === null || typeof node !== "object") return node;
    if (Array.isArray(node)) {
      let changed = false;
      const out: unknown[] = [];
      for (const item of node) {
        const next = await walk(item, depth + 1);
        changed ||= next !== item;
        out.push(next);
      }
      return changed ? out : node;
    }
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) {
      const next = await walk(item, depth + 1);
      changed ||= next !== item;
      out[key] = next;
    }
    return changed ? out : node;
  };
  const result = (await walk(value, 0)) as T;
  if (blocked) return { action: "block", ...blocked };
  return Object.keys(counts).length > 0
    ? { action: "allow", value: result, redactions: counts }
    : { action: "allow", value: result };
}
