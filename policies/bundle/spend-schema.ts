/**
 * The bundle's `spend` section: what models cost and how much may be spent. The price table starts from the
 * one Tollgate ships (policies/spend/prices.ts) unless `defaultPrices` is false; `prices` overrides or adds
 * models. Budgets cap the spend of each user, each agent or each route per window (docs/spend.md).
 */
import { z } from "zod";
import { id, text } from "./fields.js";

/** US dollars per million tokens. */
const UsdPerMillion = () => z.number().min(0).max(100_000);

const Price = z.strictObject({
  /** Input processed anew. */
  input: UsdPerMillion(),
  /** Input read from the provider's prompt cache. Omitted: the input price. */
  cachedInput: UsdPerMillion().optional(),
  /** Input written to the provider's prompt cache (Anthropic). Omitted: the input price. */
  cacheWrite: UsdPerMillion().optional(),
  output: UsdPerMillion(),
});

const Window = z.union([
  z.enum(["day", "month"]),
  z.strictObject({
    seconds: z
      .int()
      .min(60)
      .max(366 * 86_400),
  }),
]);

const Budget = z.strictObject({
  /** Stable id: named in refusals, audit events and store keys (renaming it starts the count afresh). */
  id: id(),
  /** Counted per user (the verified `sub`), per agent (`agents[].id`) or per route: each has `maxUsd`. */
  per: z.enum(["user", "agent", "route"]),
  /** Only requests on this LLM route count. Omitted: every route. */
  route: id().optional(),
  /** Only requests of this agent count. Omitted: every caller. */
  agent: id().optional(),
  /** `day` or `month` (calendar, UTC), or `{ seconds }` (fixed windows aligned to the Unix epoch). */
  window: Window,
  /** The cap in US dollars per window (micro-dollar precision). */
  maxUsd: z.number().positive().max(1_000_000_000),
});

export function spendSchema() {
  return z
    .strictObject({
      /** Start from Tollgate's price table of common OpenAI and Anthropic models. */
      defaultPrices: z.boolean().default(true),
      /** Model → price, over the default table (a listed model replaces its default entry whole). */
      prices: z.record(text(), Price).default({}),
      /**
       * The price of a model the table does not list. Omitted: such a model cannot be used where a budget
       * applies (the request is refused, naming the model), and its answers carry no cost.
       */
      unknownModelPrice: Price.optional(),
      budgets: z.array(Budget).default([]),
    })
    .default({ defaultPrices: true, prices: {}, budgets: [] });
}

interface SpendRefShape {
  llm?: { routes?: { id: string }[] };
  agents?: { id: string }[];
  spend?: { budgets?: { id: string; per: string; route?: string; agent?: string }[] };
}

/** Budget ids are unique; a budget's route and agent exist; a per-agent budget has agents to count. */
export function checkSpendReferences(raw: unknown, issue: (path: (string | number)[], message: string) => void): void {
  const bundle = raw as SpendRefShape;
  const routes = (bundle.llm?.routes ?? []).map((r) => r.id);
  const agents = (bundle.agents ?? []).map((a) => a.id);
  const known = (ids: string[]) => (ids.length > 0 ? `: expected one of ${ids.join(", ")}` : "");
  const seen = new Set<string>();
  (bundle.spend?.budgets ?? []).forEach((budget, i) => {
    const at = (field: string) => ["spend", "budgets", i, field];
    if (seen.has(budget.id)) issue(at("id"), `duplicate budget id "${budget.id}"`);
    seen.add(budget.id);
    if (budget.route !== undefined && !routes.includes(budget.route))
      issue(
        at("route"),
        `unknown LLM route "${budget.route}"${known(routes) || ": the bundle has no LLM route"} (or leave route out to count every route)`,
      );
    if (budget.agent !== undefined && !agents.includes(budget.agent))
      issue(
        at("agent"),
        `unknown agent "${budget.agent}"${known(agents) || ": the bundle has no agents"} (or leave agent out to count every caller)`,
      );
    if (budget.per === "agent" && agents.length === 0)
      issue(at("per"), `per "agent" counts the bundle's agents, and it has none: add agents, or count per "user"`);
  });
}
