/**
 * Effective MCP authority before and after: which scopes (and Okta clients) can call which tools.
 *
 * At synth time tools are known only by pattern; an upstream's real tool list is runtime knowledge.
 * So the review reports two things, honestly labelled:
 * - pattern grants per scope per upstream that were added or removed (always exact);
 * - concrete tools that became callable or stopped being so, for every tool name it knows: names the
 *   bundles mention literally (grants, deny, always-blocked) plus an optional catalogue.
 * Concrete decisions use the runtime's own `decideTool`, so review and enforcement cannot disagree.
 */
import type { SynthBundle } from "../bundle/index.js";
import {
  type CompiledToolPolicy,
  compileToolPolicy,
  decideTool,
  isLiteralToolPattern,
  type ToolDecision,
} from "../tools/index.js";
import type { AuthorityEdge, Change, ToolCatalog } from "./types.js";

type Rules = Pick<NonNullable<SynthBundle["mcp"]>, "grants" | "deny" | "alwaysBlocked" | "upstreams">;
const NO_RULES: Rules = { grants: [], deny: [], alwaysBlocked: [], upstreams: [] };

function rulesOf(bundle: SynthBundle | undefined): Rules {
  return bundle?.mcp ?? NO_RULES;
}

/**
 * Concrete tool names per upstream: literal names the bundles mention, plus the catalogue. A literal
 * in a rule for every upstream (`*`) is attached to each upstream, since any of them may expose it.
 */
export function knownToolNames(
  bundles: readonly (SynthBundle | undefined)[],
  catalog: ToolCatalog = {},
): Map<string, string[]> {
  const upstreams = new Set<string>();
  const byUpstream = new Map<string, Set<string>>();
  const everywhere = new Set<string>();
  const add = (upstream: string, name: string) => {
    const set = byUpstream.get(upstream) ?? new Set<string>();
    set.add(name);
    byUpstream.set(upstream, set);
  };
  for (const bundle of bundles) {
    const rules = rulesOf(bundle);
    for (const u of rules.upstreams) upstreams.add(u.id);
    for (const g of rules.grants) for (const t of g.tools.filter(isLiteralToolPattern)) add(g.upstream, t);
    for (const r of [...rules.deny, ...rules.alwaysBlocked]) {
      for (const t of r.tools.filter(isLiteralToolPattern)) r.upstream === "*" ? everywhere.add(t) : add(r.upstream, t);
    }
  }
  for (const [upstream, names] of Object.entries(catalog)) {
    upstreams.add(upstream);
    for (const n of names) add(upstream, n);
  }
  for (const upstream of upstreams) for (const t of everywhere) add(upstream, t);
  return new Map([...byUpstream.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([u, s]) => [u, [...s].sort()]));
}

function scopesOf(bundle: SynthBundle | undefined): string[] {
  return [...(bundle?.mcp?.grants.map((g) => g.scope) ?? []), ...(bundle?.protectedResource.scopesSupported ?? [])];
}

const grantKey = (scope: string, upstream: string, pattern: string) => JSON.stringify([scope, upstream, pattern]);

function grantKeys(bundle: SynthBundle | undefined): Set<string> {
  return new Set(rulesOf(bundle).grants.flatMap((g) => g.tools.map((t) => grantKey(g.scope, g.upstream, t))));
}

function ruleKeys(rules: Rules["deny"]): Set<string> {
  return new Set(rules.flatMap((r) => r.tools.map((t) => JSON.stringify([r.upstream, t]))));
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

/** Okta clients of the stack and the scopes each may request, on each side. */
export interface ClientScopes {
  readonly client: string;
  readonly base: readonly string[];
  readonly head: readonly string[];
}

export interface AuthorityDiff {
  readonly changes: Change[];
  readonly edges: AuthorityEdge[];
}

/**
 * Compares the MCP authority of one gateway's two bundles (either may be absent: gateway added or removed).
 * @param tools concrete names per upstream, from {@link knownToolNames}.
 * @param clients Okta clients and their scopes, when the stack's Terraform makes them known.
 */
export function diffAuthority(
  gateway: string,
  base: SynthBundle | undefined,
  head: SynthBundle | undefined,
  tools: ReadonlyMap<string, readonly string[]>,
  clients: readonly ClientScopes[] = [],
): AuthorityDiff {
  const changes: Change[] = [];
  const edges: AuthorityEdge[] = [];

  const before = grantKeys(base);
  const after = grantKeys(head);
  for (const key of sorted([...before, ...after])) {
    const [scope, upstream, pattern] = JSON.parse(key) as [string, string, string];
    const state = before.has(key) ? (after.has(key) ? "kept" : "removed") : "added";
    edges.push({ gateway, scope, upstream, pattern, state });
    if (state === "added")
      changes.push({
        kind: "tool-grant",
        effect: "widening",
        gateway,
        scope,
        upstream,
        pattern,
        change: "added",
        summary: `${scope} is granted ${upstream} tools matching \`${pattern}\``,
      });
    if (state === "removed")
      changes.push({
        kind: "tool-grant",
        effect: "narrowing",
        gateway,
        scope,
        upstream,
        pattern,
        change: "removed",
        summary: `${scope} no longer has ${upstream} tools matching \`${pattern}\``,
      });
  }

  for (const kind of ["always-blocked", "deny"] as const) {
    const field = kind === "always-blocked" ? "alwaysBlocked" : "deny";
    const b = ruleKeys(rulesOf(base)[field]);
    const a = ruleKeys(rulesOf(head)[field]);
    for (const key of sorted([...b, ...a])) {
      if (b.has(key) === a.has(key)) continue;
      const [upstream, pattern] = JSON.parse(key) as [string, string];
      const where = upstream === "*" ? "every upstream" : upstream;
      const label = kind === "always-blocked" ? "always-blocked" : "denied";
      changes.push(
        a.has(key)
          ? {
              kind,
              effect: "narrowing",
              gateway,
              upstream,
              pattern,
              change: "added",
              summary: `\`${pattern}\` on ${where} is now ${label}`,
            }
          : {
              kind,
              effect: "widening",
              gateway,
              upstream,
              pattern,
              change: "removed",
              summary: `\`${pattern}\` on ${where} is no longer ${label}`,
            },
      );
    }
  }

  const policyBefore = compileToolPolicy(rulesOf(base));
  const policyAfter = compileToolPolicy(rulesOf(head));
  const compare = (
    scopesBefore: readonly string[],
    scopesAfter: readonly string[],
    emit: (tool: string, gained: boolean, decision: ToolDecision) => void,
  ) => {
    for (const [upstream, names] of tools) {
      for (const name of names) {
        const was = decideTool(scopesBefore, upstream, name, policyBefore);
        const is = decideTool(scopesAfter, upstream, name, policyAfter);
        if (was.allowed !== is.allowed) emit(`${upstream}__${name}`, is.allowed, is.allowed ? was : is);
      }
    }
  };
  const ruleOf = (d: ToolDecision) => (d.allowed ? undefined : d.rule);

  for (const scope of sorted([...scopesOf(base), ...scopesOf(head)])) {
    compare([scope], [scope], (tool, gained, decision) => {
      const rule = ruleOf(decision);
      changes.push({
        kind: "tool-access",
        effect: gained ? "widening" : "narrowing",
        gateway,
        scope,
        tool,
        change: gained ? "gained" : "lost",
        ...(gained ? {} : rule ? { rule } : {}),
        summary: gained
          ? `${scope} can now call ${tool}`
          : `${scope} can no longer call ${tool}${rule ? ` (${rule})` : ""}`,
      });
    });
  }

  for (const { client, base: scopesBefore, head: scopesAfter } of clients) {
    compare(scopesBefore, scopesAfter, (tool, gained, decision) => {
      const rule = ruleOf(decision);
      changes.push({
        kind: "client-access",
        effect: gained ? "widening" : "narrowing",
        gateway,
        client,
        tool,
        change: gained ? "gained" : "lost",
        ...(gained ? {} : rule ? { rule } : {}),
        summary: gained
          ? `client ${client} can now call ${tool}`
          : `client ${client} can no longer call ${tool}${rule ? ` (${rule})` : ""}`,
      });
    });
  }
  return { changes, edges };
}

export type { CompiledToolPolicy };
