/**
 * Effective MCP authority before and after, per principal: every scope, and every Okta client (agent
 * service apps and user apps) with the scopes its policy rules let it request.
 *
 * At synth time tools are known only by pattern; an upstream's real tool list is runtime knowledge.
 * So each principal is asked two kinds of question, both answered by the gateway's own `decideTool`:
 * - concrete tools: every name the bundles mention literally (grants, deny, always-blocked) plus an
 *   optional catalogue;
 * - granted patterns: a pattern is asked as its literal text (`create_*` as `create_`), which is what
 *   the always-blocked and deny rules would see of any tool it names.
 * One row per real change: when a grant pattern itself was added or removed, its row lists the known tools
 * it covers; when a blocking rule or a client's scopes changed, concrete rows say it, and a pattern row
 * remains only where no known tool does.
 */
import type { SynthBundle } from "../bundle/index.js";
import {
  compileToolPolicy,
  type CompiledToolPolicy,
  decideTool,
  isLiteralToolPattern,
  matchesToolPattern,
  type ToolDecision,
} from "../tools/index.js";
import type { AgentActing, AuthorityEdge, Change, ToolCatalog } from "./types.js";

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
  /** May get tokens without a user (client credentials): nobody is present to notice what it calls. */
  readonly unattended: boolean;
  readonly base: readonly string[];
  readonly head: readonly string[];
}

/**
 * A bundle agent's scopes on each side, alone or acting for a user (empty on the side where it does not exist).
 * Alone it holds its ceiling but the privileged scopes (never issued to client credentials); for a user, the
 * ceiling ∩ what a user may hold, asked for the widest user.
 */
export interface AgentScopes {
  readonly agent: string;
  readonly forUser: boolean;
  readonly base: readonly string[];
  readonly head: readonly string[];
}

export interface AuthorityDiff {
  readonly changes: Change[];
  readonly edges: AuthorityEdge[];
}

/** What a principal is asked about: one concrete tool, or every tool a granted pattern names. */
interface Target {
  readonly upstream: string;
  readonly name: string;
  readonly match: "tool" | "pattern";
}

/** Non-literal grant patterns of either side, per upstream. */
function grantedPatterns(base: SynthBundle | undefined, head: SynthBundle | undefined): Target[] {
  const keys = new Set<string>();
  for (const bundle of [base, head])
    for (const g of rulesOf(bundle).grants)
      for (const t of g.tools) if (!isLiteralToolPattern(t)) keys.add(JSON.stringify([g.upstream, t]));
  return sorted(keys).map((k) => {
    const [upstream, name] = JSON.parse(k) as [string, string];
    return { upstream, name, match: "pattern" };
  });
}

/** The name a pattern is asked as: its literal text, what the blocking rules see of any tool it names. */
const askedAs = (t: Target) => (t.match === "tool" ? t.name : t.name.replaceAll("*", ""));

/** Which grant pattern of `scope` decided, for the row (the decision itself is `decideTool`'s). */
function grantPattern(rules: Rules, scope: string, t: Target): string | undefined {
  const name = askedAs(t);
  for (const g of rules.grants) {
    if (g.scope !== scope || g.upstream !== t.upstream) continue;
    const found =
      t.match === "pattern" && g.tools.includes(t.name) ? t.name : g.tools.find((p) => matchesToolPattern(p, name));
    if (found) return found;
  }
  return undefined;
}

interface Row {
  readonly target: Target;
  readonly change: "gained" | "lost";
  readonly decision: ToolDecision;
  readonly rules: Rules;
}

/** What a row says, before it is worded for a scope or a client. */
interface RowFields {
  readonly tool: string;
  readonly change: "gained" | "lost";
  readonly match: Target["match"];
  readonly covers?: readonly string[];
  readonly via?: string | undefined;
  readonly rule?: string;
}

interface Principal {
  readonly before: readonly string[];
  readonly after: readonly string[];
  readonly row: (fields: RowFields) => Change;
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
  agents: readonly AgentScopes[] = [],
): AuthorityDiff {
  const changes: Change[] = [];
  const edges: AuthorityEdge[] = [];

  const before = grantKeys(base);
  const after = grantKeys(head);
  for (const key of sorted([...before, ...after])) {
    const [scope, upstream, pattern] = JSON.parse(key) as [string, string, string];
    const state = before.has(key) ? (after.has(key) ? "kept" : "removed") : "added";
    edges.push({ gateway, scope, upstream, pattern, state });
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

  const targets: Target[] = [
    ...[...tools].flatMap(([upstream, names]) => names.map((name): Target => ({ upstream, name, match: "tool" }))),
    ...grantedPatterns(base, head),
  ];
  const policyBefore = compileToolPolicy(rulesOf(base));
  const policyAfter = compileToolPolicy(rulesOf(head));

  const principals: Principal[] = [
    ...sorted([...scopesOf(base), ...scopesOf(head)]).map((scope): Principal => ({
      before: [scope],
      after: [scope],
      row: (f) => ({
        kind: "tool-access",
        effect: f.change === "gained" ? "widening" : "narrowing",
        gateway,
        scope,
        tool: f.tool,
        match: f.match,
        change: f.change,
        ...(f.covers ? { covers: f.covers } : {}),
        ...(f.rule ? { rule: f.rule } : {}),
        summary: sentence(scope, { ...f, via: undefined }),
      }),
    })),
    ...clients.map(({ client, unattended, base: scopesBefore, head: scopesAfter }): Principal => ({
      before: scopesBefore,
      after: scopesAfter,
      row: (f) => ({
        kind: "client-access",
        ...accessFields(gateway, f),
        client,
        unattended,
        summary: sentence(
          `client ${client} ${unattended ? "(unattended: client credentials, no user)" : "(on behalf of a user)"}`,
          f,
        ),
      }),
    })),
    ...agents.map(({ agent, forUser, base: scopesBefore, head: scopesAfter }): Principal => ({
      before: scopesBefore,
      after: scopesAfter,
      row: (f) => ({
        kind: "agent-access",
        ...accessFields(gateway, f),
        agent,
        acting: forUser ? "for-user" : "alone",
        summary: sentence(agentWho(agent, forUser ? "for-user" : "alone"), f),
      }),
    })),
  ];

  for (const principal of principals) {
    const rows: Row[] = [];
    for (const target of targets) {
      const name = askedAs(target);
      const was = decideTool(principal.before, target.upstream, name, policyBefore);
      const is = decideTool(principal.after, target.upstream, name, policyAfter);
      if (was.allowed === is.allowed) continue;
      rows.push(
        is.allowed
          ? { target, change: "gained", decision: is, rules: rulesOf(head) }
          : { target, change: "lost", decision: was, rules: rulesOf(base) },
      );
    }
    // One row per real change. When a grant of this pattern was itself added (or removed) for a scope the
    // principal holds, the pattern row is the change and lists the known tools it covers. Otherwise (a
    // blocking rule or the client's scopes changed) the concrete rows say it, and a pattern row remains
    // only where no known tool does.
    const grantChanged = (r: Row) =>
      r.target.match === "pattern" &&
      edges.some(
        (e) =>
          e.upstream === r.target.upstream &&
          e.pattern === r.target.name &&
          e.state === (r.change === "gained" ? "added" : "removed") &&
          (r.change === "gained" ? principal.after : principal.before).includes(e.scope),
      );
    const covers = (p: Row, c: Row) =>
      c.target.match === "tool" &&
      c.change === p.change &&
      c.target.upstream === p.target.upstream &&
      matchesToolPattern(p.target.name, c.target.name);
    const absorbing = rows.filter(grantChanged);
    const shown = rows.filter((r) =>
      r.target.match === "tool"
        ? !absorbing.some((p) => covers(p, r))
        : absorbing.includes(r) || !rows.some((c) => covers(r, c)),
    );
    for (const row of shown) {
      const { target, change, decision, rules } = row;
      const via = decision.allowed ? decision.grantedBy : undefined;
      const pattern = via ? grantPattern(rules, via, target) : undefined;
      const lostBecause = change === "lost" ? denialOf(principal.after, target, policyAfter) : undefined;
      const covered = absorbing.includes(row) ? rows.filter((c) => covers(row, c)).map((c) => c.target.name) : [];
      changes.push(
        principal.row({
          tool: `${target.upstream}__${target.name}`,
          match: target.match,
          change,
          ...(covered.length > 0 ? { covers: covered } : {}),
          ...(via ? { via: pattern && pattern !== target.name ? `${via}: ${pattern}` : via } : {}),
          ...(lostBecause ? { rule: lostBecause } : {}),
        }),
      );
    }
  }
  return { changes: mergeAgentRows(changes), edges };
}

/** What a principal's access row says whoever the principal is. */
function accessFields(gateway: string, f: RowFields) {
  return {
    effect: f.change === "gained" ? ("widening" as const) : ("narrowing" as const),
    gateway,
    tool: f.tool,
    match: f.match,
    change: f.change,
    ...(f.covers ? { covers: f.covers } : {}),
    ...(f.via ? { via: f.via } : {}),
    ...(f.rule ? { rule: f.rule } : {}),
  };
}

const ACTING: Readonly<Record<AgentActing, string>> = {
  alone: "alone",
  "for-user": "acting for a user",
  both: "alone and acting for a user",
};

const agentWho = (agent: string, acting: AgentActing) => `agent ${agent} ${ACTING[acting]}`;

/** An agent's alone and for-a-user rows that say the same thing become one row (`acting: "both"`). */
function mergeAgentRows(changes: Change[]): Change[] {
  const key = (c: Change & { kind: "agent-access" }) =>
    JSON.stringify([c.agent, c.tool, c.match, c.change, c.via ?? "", c.rule ?? "", c.covers ?? []]);
  const forUser = new Map<string, Change & { kind: "agent-access" }>();
  for (const c of changes) if (c.kind === "agent-access" && c.acting === "for-user") forUser.set(key(c), c);
  const merged = new Set<Change>();
  const out: Change[] = [];
  for (const c of changes) {
    if (merged.has(c)) continue;
    const twin = c.kind === "agent-access" && c.acting === "alone" ? forUser.get(key(c)) : undefined;
    if (c.kind === "agent-access" && twin) {
      merged.add(twin);
      const prefix = agentWho(c.agent, "alone");
      out.push({ ...c, acting: "both", summary: agentWho(c.agent, "both") + c.summary.slice(prefix.length) });
    } else out.push(c);
  }
  return out;
}

function denialOf(scopes: readonly string[], target: Target, policy: CompiledToolPolicy): string | undefined {
  const d = decideTool(scopes, target.upstream, askedAs(target), policy);
  return d.allowed ? undefined : d.rule;
}

function sentence(who: string, f: RowFields): string {
  const known = f.covers && f.covers.length > 0 ? `, known: ${f.covers.join(", ")}` : "";
  const what = f.match === "pattern" ? `tools matching \`${f.tool}\`${known && ` (${known.slice(2)})`}` : f.tool;
  return f.change === "gained"
    ? `${who} can now call ${what}${f.via ? ` (via ${f.via})` : ""}`
    : `${who} can no longer call ${what}${f.rule ? ` (${f.rule})` : ""}`;
}

export type { CompiledToolPolicy };
