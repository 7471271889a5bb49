/**
 * The registry of Tollgate's synth-time rules: one row per rule, read by the checks (constructs/checks.ts),
 * by `TollgateChecks.suppress`, and by the README's rule table (a test compares the two).
 */

export type RuleSeverity = "error" | "warning";

export interface RuleDefinition {
  /** What the rule forbids, in one line. */
  readonly title: string;
  /** `error` fails `cdktf synth`; `warning` is printed and synth goes on. */
  readonly severity: RuleSeverity;
  /** Whether `TollgateChecks.suppress` may silence it (with a written reason). */
  readonly suppressible: boolean;
}

export const RULES = {
  "TG-SCOPE-001": { title: "a privileged scope does not require consent", severity: "error", suppressible: true },
  "TG-SCOPE-002": { title: "a tool grant names a scope that does not exist", severity: "error", suppressible: true },
  "TG-GRANT-001": {
    title: "a tool grant reaches no gateway (no bundle carries its upstream)",
    severity: "error",
    suppressible: false,
  },
  "TG-TOOL-001": { title: "a destructive tool is granted", severity: "error", suppressible: true },
  "TG-ENV-001": {
    title: "the agent runtime's environment holds something secret-like",
    severity: "error",
    suppressible: true,
  },
  "TG-AUTH-001": { title: "a gateway route does not require authentication", severity: "error", suppressible: true },
  "TG-IMG-001": { title: "a non-dev image is not pinned by digest", severity: "error", suppressible: true },
  "TG-NET-001": { title: "a non-dev gateway calls an upstream over plain http", severity: "error", suppressible: true },
  "TG-LIMIT-001": {
    title: "several replicas keep separate in-memory rate-limit budgets",
    severity: "warning",
    suppressible: true,
  },
  "TG-SESSION-001": {
    title: "several replicas serve MCP without a shared session store",
    severity: "error",
    suppressible: true,
  },
  "TG-BUNDLE-001": { title: "the gateway bundle does not validate", severity: "error", suppressible: false },
  "TG-AGENT-001": { title: "an agent's scope does not exist", severity: "error", suppressible: false },
  "TG-AGENT-002": { title: "two agents of one gateway share an id", severity: "error", suppressible: false },
  "TG-AGENT-003": {
    title: "an agent's runtime does not pass the caller's Authorization header through",
    severity: "error",
    suppressible: true,
  },
} as const satisfies Record<string, RuleDefinition>;

export type RuleId = keyof typeof RULES;

export function isRuleId(id: string): id is RuleId {
  return Object.hasOwn(RULES, id);
}
