/**
 * Which MCP tools a caller may see and call: the one decision the runtime gateway, `tollgate explain`
 * and `tollgate diff` share. Pure: no I/O, no clock, no state.
 *
 * Order of precedence (first match decides):
 * 1. `mcp.alwaysBlocked` — refused for everyone, whatever the scopes (destructive tools).
 * 2. `mcp.deny` — refused for everyone; deny wins over grants.
 * 3. `mcp.grants` — allowed when the caller holds a scope whose grant matches the tool.
 * 4. Otherwise refused (default deny).
 *
 * Tool patterns (`./pattern.ts`) are matched against the whole upstream tool name (the name the upstream
 * itself uses, without the `{upstreamId}__` prefix).
 */
import type { McpConfig } from "../bundle/index.js";
import { toolPattern } from "./pattern.js";

/** One compiled tool pattern: the source text (for messages) and its anchored regex. */
export interface CompiledPattern {
  readonly source: string;
  readonly regex: RegExp;
}

/** A grant compiled at load: holders of `scope` may use tools of `upstream` matching `patterns`. */
export interface CompiledGrant {
  readonly scope: string;
  readonly upstream: string;
  readonly patterns: readonly CompiledPattern[];
}

/** A deny or always-blocked rule compiled at load. `upstream` is an id or `*` (every upstream). */
export interface CompiledRule {
  readonly upstream: string;
  readonly patterns: readonly CompiledPattern[];
  readonly reason: string;
}

/**
 * The bundle's tool rules compiled once at load (see {@link compileToolPolicy}). Grants are indexed by
 * upstream id so a decision only looks at the rules that can apply.
 */
export interface CompiledToolPolicy {
  readonly alwaysBlocked: readonly CompiledRule[];
  readonly deny: readonly CompiledRule[];
  readonly grantsByUpstream: ReadonlyMap<string, readonly CompiledGrant[]>;
}

/** Why a tool was refused. `requiredScopes` lists every scope that would allow it (empty when none would). */
export type ToolDenial = {
  readonly allowed: false;
  /** `always-blocked: <reason>`, `deny: <reason>`, `scope: <scope> required` (scopes joined by ` or `), or `no grant`. */
  readonly rule: string;
  readonly requiredScopes: readonly string[];
};

export type ToolDecision = { readonly allowed: true; readonly grantedBy: string } | ToolDenial;

/** The subset of the bundle's `mcp` section the decision reads. */
export type ToolRules = Pick<McpConfig, "grants" | "deny" | "alwaysBlocked">;

/** A tool pattern with its regex (see {@link toolPattern}). */
export function compilePattern(pattern: string): CompiledPattern {
  return { source: pattern, regex: toolPattern(pattern) };
}

/** Compiles the bundle's grants, deny rules and always-blocked list. Call once per loaded bundle. */
export function compileToolPolicy(rules: ToolRules): CompiledToolPolicy {
  const grantsByUpstream = new Map<string, CompiledGrant[]>();
  for (const grant of rules.grants) {
    const compiled: CompiledGrant = {
      scope: grant.scope,
      upstream: grant.upstream,
      patterns: grant.tools.map(compilePattern),
    };
    const list = grantsByUpstream.get(grant.upstream) ?? [];
    list.push(compiled);
    grantsByUpstream.set(grant.upstream, list);
  }
  const rule = (r: ToolRules["deny"][number]): CompiledRule => ({
    upstream: r.upstream,
    reason: r.reason,
    patterns: r.tools.map(compilePattern),
  });
  return { alwaysBlocked: rules.alwaysBlocked.map(rule), deny: rules.deny.map(rule), grantsByUpstream };
}

function matches(patterns: readonly CompiledPattern[], toolName: string): boolean {
  return patterns.some((p) => p.regex.test(toolName));
}

function firstRule(rules: readonly CompiledRule[], upstreamId: string, toolName: string): CompiledRule | undefined {
  return rules.find((r) => (r.upstream === "*" || r.upstream === upstreamId) && matches(r.patterns, toolName));
}

/**
 * Every scope whose grant covers the tool, in bundle order, without duplicates. Ignores deny rules:
 * use {@link decideTool} for the decision.
 */
export function scopesGranting(upstreamId: string, toolName: string, policy: CompiledToolPolicy): string[] {
  const scopes: string[] = [];
  for (const grant of policy.grantsByUpstream.get(upstreamId) ?? []) {
    if (!scopes.includes(grant.scope) && matches(grant.patterns, toolName)) scopes.push(grant.scope);
  }
  return scopes;
}

/**
 * Decides whether a caller holding `scopes` may see and call `toolName` of upstream `upstreamId`.
 *
 * @param scopes the verified token's scopes (`scp`).
 * @param upstreamId the upstream's id from the bundle.
 * @param toolName the upstream's own tool name (not namespaced).
 * @param policy the compiled rules ({@link compileToolPolicy}).
 * @returns allowed with the scope that granted it (the first granting scope the caller holds, in bundle
 *   order), or denied with the rule that decided and every scope that would allow the tool (for the
 *   `insufficient_scope` challenge; empty for always-blocked, denied and ungranted tools).
 */
export function decideTool(
  scopes: readonly string[],
  upstreamId: string,
  toolName: string,
  policy: CompiledToolPolicy,
): ToolDecision {
  const blocked = firstRule(policy.alwaysBlocked, upstreamId, toolName);
  if (blocked) return { allowed: false, rule: `always-blocked: ${blocked.reason}`, requiredScopes: [] };
  const denied = firstRule(policy.deny, upstreamId, toolName);
  if (denied) return { allowed: false, rule: `deny: ${denied.reason}`, requiredScopes: [] };
  const granting = scopesGranting(upstreamId, toolName, policy);
  const held = granting.find((scope) => scopes.includes(scope));
  if (held !== undefined) return { allowed: true, grantedBy: held };
  if (granting.length === 0) return { allowed: false, rule: "no grant", requiredScopes: [] };
  return { allowed: false, rule: `scope: ${granting.join(" or ")} required`, requiredScopes: granting };
}

/**
 * Prompts and resources have no grants of their own: they are available to a caller who holds a scope
 * with at least one grant on their upstream. A prompt whose name matches an always-blocked or deny rule
 * is refused like a tool of that name. Resource URIs are not matched against tool patterns.
 *
 * @param name a prompt name to check against always-blocked and deny rules; omit for resources.
 */
export function decideUpstreamItem(
  scopes: readonly string[],
  upstreamId: string,
  policy: CompiledToolPolicy,
  name?: string,
): ToolDecision {
  if (name !== undefined) {
    const blocked = firstRule(policy.alwaysBlocked, upstreamId, name);
    if (blocked) return { allowed: false, rule: `always-blocked: ${blocked.reason}`, requiredScopes: [] };
    const denied = firstRule(policy.deny, upstreamId, name);
    if (denied) return { allowed: false, rule: `deny: ${denied.reason}`, requiredScopes: [] };
  }
  const granting: string[] = [];
  for (const grant of policy.grantsByUpstream.get(upstreamId) ?? [])
    if (!granting.includes(grant.scope)) granting.push(grant.scope);
  const held = granting.find((scope) => scopes.includes(scope));
  if (held !== undefined) return { allowed: true, grantedBy: held };
  if (granting.length === 0) return { allowed: false, rule: "no grant", requiredScopes: [] };
  return { allowed: false, rule: `scope: ${granting.join(" or ")} required`, requiredScopes: granting };
}
