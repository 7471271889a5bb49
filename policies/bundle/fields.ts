/**
 * The field types every part of the bundle schema is built from: text that may not hide a placeholder,
 * URLs, paths, ids, secret references, and apply-time fields (which take `{{apply:NAME}}` at synth only).
 */
import { z } from "zod";
import { PLACEHOLDER_NAME, containsPlaceholder } from "./placeholders.js";

export type BundleMode = "synth" | "runtime";

/** Upstream and route identifiers: they become tool-name prefixes and metric labels. */
export const UPSTREAM_ID = /^[a-z][a-z0-9-]{0,15}$/;
/** A tool name as LLM APIs accept it. */
export const LLM_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/** Tool patterns: tool names with `*` wildcards (`list_*`, `*delete*`). */
export const TOOL_PATTERN = /^[a-zA-Z0-9_.*-]{1,128}$/;

const NO_PLACEHOLDER = "apply-time placeholders are only allowed in fields documented as apply-time";

export function text() {
  return z
    .string()
    .min(1)
    .refine((s) => !containsPlaceholder(s), { error: NO_PLACEHOLDER });
}

function httpUrl(opts: { httpsOnly: boolean }) {
  return text().superRefine((value, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      ctx.addIssue({
        code: "custom",
        message: `expected an ${opts.httpsOnly ? "https" : "http(s)"} URL, got ${JSON.stringify(value)}`,
      });
      return;
    }
    const allowed = opts.httpsOnly ? ["https:"] : ["https:", "http:"];
    if (!allowed.includes(parsed.protocol)) {
      ctx.addIssue({
        code: "custom",
        message: `expected an ${opts.httpsOnly ? "https" : "http(s)"} URL, got ${JSON.stringify(value)}`,
      });
    }
    if (parsed.username || parsed.password) {
      ctx.addIssue({ code: "custom", message: "URLs must not carry credentials; use a secret reference" });
    }
  });
}

/**
 * A URL the gateway talks to. `http:` is accepted so local stand-ins work; the synth-time Aspect
 * (TG-NET-001) refuses plain http for non-dev environments.
 */
export const url = () => httpUrl({ httpsOnly: false });
export const path = () =>
  text().regex(/^\/[a-zA-Z0-9._~\/-]*$/, { error: "expected an absolute path such as /mcp or /openai" });
export const id = () =>
  text().regex(UPSTREAM_ID, {
    error: "expected a lower-case id: a letter, then letters, digits or '-', at most 16 characters",
  });

/** A reference to a secret the runtime reads at start. The bundle never holds the secret itself. */
export const SecretRefSchema = z.union([
  z.strictObject({
    env: text().regex(/^[A-Z_][A-Z0-9_]*$/, { error: "expected an environment variable name (A-Z, 0-9, _)" }),
  }),
  z.strictObject({ file: text().regex(/^\//, { error: "expected an absolute file path" }) }),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

/**
 * Fields whose value may be known only after `terraform apply`: at synth they take a `{{apply:NAME}}`
 * placeholder, at load never.
 */
export function applyTimeField(mode: BundleMode) {
  return <T extends z.ZodType>(inner: T) => {
    const placeholderString = z.string().regex(/^\{\{apply:[^}]+\}\}$/);
    if (mode === "synth") {
      return z
        .union([
          placeholderString.refine((s) => PLACEHOLDER_NAME.test(s.slice(8, -2)), { error: "malformed placeholder" }),
          inner,
        ])
        .meta({ applyTime: true });
    }
    return z.union([
      inner,
      placeholderString.refine(() => false, {
        error: "unresolved apply-time placeholder: supply its value in values.json (or the local overlay)",
      }),
    ]);
  };
}
