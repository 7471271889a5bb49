/**
 * The authority matrix: for every upstream tool and every scope the bundle grants, what the gateway would
 * decide for a caller holding only that scope. Each cell is `decideTool`'s answer (the decision the gateway
 * enforces), never a second reading of the rules.
 */
import type { Bundle } from "../../policies/bundle/index.js";
import { type CompiledToolPolicy, decideTool } from "../../policies/tools/index.js";
import type { UpstreamTool } from "./deps.js";

export type MatrixCell =
  | { readonly outcome: "allow"; readonly grantedBy: string }
  | { readonly outcome: "always-blocked" | "deny" | "refuse"; readonly rule: string };

export interface MatrixRow {
  readonly upstream: string;
  /** The upstream's own tool name, or a rule's pattern when the upstream's tools are not known. */
  readonly tool: string;
  /** The row stands for the tools a pattern of the bundle names, not for one listed tool. */
  readonly isPattern: boolean;
  readonly alwaysBlocked: boolean;
  /** One per {@link AuthorityMatrix.scopes}, in order. */
  readonly cells: readonly MatrixCell[];
}

/** Which agents' tokens reach the tool rules at all (`auth.allowedClients`). */
export type ClientRestriction =
  { readonly restricted: false } | { readonly restricted: true; readonly allowed: readonly string[] };

export interface AuthorityMatrix {
  /** Every scope some grant names, in bundle order. */
  readonly scopes: readonly string[];
  readonly rows: readonly MatrixRow[];
  readonly clients: ClientRestriction;
}

function cellOf(scope: string, upstream: string, tool: string, policy: CompiledToolPolicy): MatrixCell {
  const decision = decideTool([scope], upstream, tool, policy);
  if (decision.allowed) return { outcome: "allow", grantedBy: decision.grantedBy };
  if (decision.rule.startsWith("always-blocked:")) return { outcome: "always-blocked", rule: decision.rule };
  if (decision.rule.startsWith("deny:")) return { outcome: "deny", rule: decision.rule };
  return { outcome: "refuse", rule: decision.rule };
}

/** The patterns the bundle's rules name for `upstream` (rules for every upstream included), without duplicates. */
function patternsOf(bundle: Bundle, upstream: string): string[] {
  const mcp = bundle.mcp;
  if (!mcp) return [];
  const names = [
    ...mcp.grants.filter((g) => g.upstream === upstream).flatMap((g) => g.tools),
    ...[...mcp.deny, ...mcp.alwaysBlocked]
      .filter((r) => r.upstream === upstream || r.upstream === "*")
      .flatMap((r) => r.tools),
  ];
  return [...new Set(names)];
}

/**
 * @param tools the tools the upstreams offer; an upstream without any listed is shown by its rule patterns.
 */
export function authorityMatrix(
  bundle: Bundle,
  policy: CompiledToolPolicy,
  tools: readonly UpstreamTool[] = [],
): AuthorityMatrix {
  const mcp = bundle.mcp;
  const scopes = [...new Set((mcp?.grants ?? []).map((g) => g.scope))];
  const rows: MatrixRow[] = [];
  for (const { id: upstream } of mcp?.upstreams ?? []) {
    const listed = [...new Set(tools.filter((t) => t.upstream === upstream).map((t) => t.name))].sort();
    const isPattern = listed.length === 0;
    for (const tool of isPattern ? patternsOf(bundle, upstream) : listed) {
      const unscoped = decideTool([], upstream, tool, policy);
      const alwaysBlocked = !unscoped.allowed && unscoped.rule.startsWith("always-blocked:");
      rows.push({
        upstream,
        tool,
        isPattern,
        alwaysBlocked,
        cells: scopes.map((scope) => cellOf(scope, upstream, tool, policy)),
      });
    }
  }
  const allowed = bundle.auth.allowedClients;
  return { scopes, rows, clients: allowed ? { restricted: true, allowed: [...allowed] } : { restricted: false } };
}
