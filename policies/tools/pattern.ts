/**
 * The bundle's tool-pattern syntax, in one place: a pattern is a tool name in which `*` matches any run of
 * characters (including none) and every other character is literal. The synth-time checks, the gateway's
 * decision and `tollgate diff` all match through this module, so a tool name cannot be allowed by one and
 * refused by another.
 */

/** Characters that mean something in a regular expression; each is escaped when it appears in a pattern. */
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|]/g;

/** `list_*` → `/^list_.*$/`; `a.b` → `/^a\.b$/`. Compile once and keep the result. */
export function toolPattern(pattern: string): RegExp {
  const body = pattern
    .split("*")
    .map((literal) => literal.replace(REGEX_SYNTAX, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "su");
}

/** Whether `pattern` has no wildcard, so it names exactly one tool. */
export function isLiteralToolPattern(pattern: string): boolean {
  return !pattern.includes("*");
}

const compiled = new Map<string, RegExp>();

/**
 * Whether `name` matches `pattern` (see {@link toolPattern}). Compiled patterns are kept, so callers may
 * pass the same pattern text on every call.
 */
export function matchesToolPattern(pattern: string, name: string): boolean {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    regex = toolPattern(pattern);
    compiled.set(pattern, regex);
  }
  return regex.test(name);
}

/**
 * Whether a grant pattern reaches a blocked tool: its literal text (wildcards removed) or the pattern
 * itself matches one of `blocked`. `*` alone grants everything but names nothing, so it does not count.
 */
export function grantsDestructiveTool(grantPattern: string, blocked: readonly string[]): boolean {
  const literal = grantPattern.replaceAll("*", "");
  return (
    literal.length > 0 && blocked.some((b) => matchesToolPattern(b, literal) || matchesToolPattern(b, grantPattern))
  );
}
