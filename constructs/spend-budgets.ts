import type { BundleInput } from "../policies/bundle/index.js";
import { UPSTREAM_ID } from "../policies/bundle/fields.js";
import type { GatewayRoute } from "./gateway-route.js";
import type { IAgentIdentity } from "./refs.js";

/** What a model costs, in US dollars per million tokens. */
export interface SpendPrice {
  /** Input processed anew. */
  readonly input: number;
  /** Input read from the provider's prompt cache. @default the input price */
  readonly cachedInput?: number;
  /** Input written to the provider's prompt cache (Anthropic). @default the input price */
  readonly cacheWrite?: number;
  readonly output: number;
}

/** `day` or `month` (calendar, UTC), or fixed windows of `seconds` (60 to 366 days) aligned to the Unix epoch. */
export type SpendWindow = "day" | "month" | { readonly seconds: number };

/** A cap on what each user, each agent or each route may spend per window (docs/spend.md). */
export interface SpendBudget {
  /**
   * Stable id (`[a-z][a-z0-9-]{0,15}`). It is API: clients read it in the 429 body (`spend_budget_exceeded`),
   * audit events and dashboards name it, and the counts are stored under it (renaming it starts afresh).
   */
  readonly id: string;
  /** What the cap is counted per: each user (the verified `sub`), each agent, or each route. */
  readonly per: "user" | "agent" | "route";
  /**
   * Only this agent's requests count: an `Agent` of this bundle's gateway. With `per: "agent"`, the agent's own
   * budget; with `per: "user"`, what each user may spend through this agent.
   * @default every caller
   */
  readonly agent?: IAgentIdentity;
  /** Only requests on this LLM route (one of the bundle's routes) count. @default every LLM route */
  readonly route?: GatewayRoute;
  readonly window: SpendWindow;
  /** The cap in US dollars per window, above 0 (micro-dollar precision). */
  readonly maxUsd: number;
}

/** Prices and budgets: what models cost and how much may be spent (the bundle's `spend`). */
export interface GatewaySpendSettings {
  /**
   * Start from Tollgate's price table of common OpenAI and Anthropic models (policies/spend/prices.ts).
   * @default true
   */
  readonly defaultPrices?: boolean;
  /** Model name → price, over the default table (a listed model replaces its default entry whole). @default {} */
  readonly prices?: Readonly<Record<string, SpendPrice>>;
  /**
   * The price of a model the table does not list.
   * @default none: where a budget applies, such a model is refused (400 `model_not_priced`, naming it)
   */
  readonly unknownModelPrice?: SpendPrice;
  /**
   * The budgets. Budgets of agents created after the bundle (an `Agent` needs its gateway first) are added with
   * `GatewayBundle.addSpendBudget`.
   * @default none: nothing is capped (answers are still priced in audit and metrics)
   */
  readonly budgets?: readonly SpendBudget[];
}

type SpendInput = NonNullable<BundleInput["spend"]>;

/** The bundle's `spend` section; undefined when nothing is set, so a bundle without spend keeps its digest. */
export function spendSection(
  settings: GatewaySpendSettings | undefined,
  budgets: readonly SpendBudget[],
): SpendInput | undefined {
  if (!settings && budgets.length === 0) return undefined;
  return {
    ...(settings?.defaultPrices === undefined ? {} : { defaultPrices: settings.defaultPrices }),
    ...(settings?.prices
      ? { prices: Object.fromEntries(Object.entries(settings.prices).map(([model, p]) => [model, { ...p }])) }
      : {}),
    ...(settings?.unknownModelPrice ? { unknownModelPrice: { ...settings.unknownModelPrice } } : {}),
    budgets: budgets.map((b) => ({
      id: b.id,
      per: b.per,
      ...(b.route ? { route: b.route.routeId } : {}),
      ...(b.agent ? { agent: b.agent.agentId } : {}),
      window: typeof b.window === "string" ? b.window : { seconds: b.window.seconds },
      maxUsd: b.maxUsd,
    })),
  };
}

/** What the checks need of the bundle: its routes and its agents (known only once every `Agent` exists). */
export interface SpendScope {
  readonly routes: readonly GatewayRoute[];
  readonly agents: readonly IAgentIdentity[];
}

const MAX_WINDOW_SECONDS = 366 * 86_400;
const MAX_USD_PER_MILLION = 100_000;

/** Every problem with the spend settings, each naming the field and the fix. */
export function spendProblems(
  settings: GatewaySpendSettings | undefined,
  budgets: readonly SpendBudget[],
  scope: SpendScope,
): string[] {
  const errors: string[] = [];
  const prices: [string, SpendPrice][] = Object.entries(settings?.prices ?? {}).map(([model, price]) => [
    `prices["${model}"]`,
    price,
  ]);
  if (settings?.unknownModelPrice) prices.push(["unknownModelPrice", settings.unknownModelPrice]);
  for (const [field, price] of prices)
    for (const part of ["input", "cachedInput", "cacheWrite", "output"] as const) {
      const value = price[part];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= MAX_USD_PER_MILLION))
        errors.push(
          `spend.${field}.${part}: expected US dollars per million tokens, 0 to ${MAX_USD_PER_MILLION}, got ${value}`,
        );
    }

  const seen = new Set<string>();
  for (const budget of budgets) {
    const at = `spend.budgets["${budget.id}"]`;
    if (!UPSTREAM_ID.test(budget.id))
      errors.push(
        `spend.budgets: id ${JSON.stringify(budget.id)} is not a lower-case id (a letter, then letters, digits or '-', at most 16): rename it (ids are API: 429 bodies and audit name them)`,
      );
    if (seen.has(budget.id))
      errors.push(
        `spend.budgets: id "${budget.id}" is used by two budgets: give each its own id (ids are API: 429 bodies, audit and the stored counts name them)`,
      );
    seen.add(budget.id);
    if (!(Number.isFinite(budget.maxUsd) && budget.maxUsd > 0))
      errors.push(
        `${at}.maxUsd: expected an amount above 0 US dollars, got ${budget.maxUsd}: set the cap, or remove the budget to cap nothing`,
      );
    if (typeof budget.window === "object") {
      const { seconds } = budget.window;
      if (!Number.isInteger(seconds) || seconds < 60 || seconds > MAX_WINDOW_SECONDS)
        errors.push(
          `${at}.window.seconds: expected whole seconds from 60 to ${MAX_WINDOW_SECONDS} (366 days), got ${seconds}: or use "day" or "month"`,
        );
    }
    if (budget.agent && !scope.agents.includes(budget.agent))
      errors.push(
        `${at}.agent: agent "${budget.agent.agentId}" (${budget.agent.node.path}) is not an agent of this bundle: create the Agent with this bundle's gateway, or use an agent of this bundle`,
      );
    if (budget.route && !scope.routes.includes(budget.route))
      errors.push(
        `${at}.route: route ${budget.route.node.path} ("${budget.route.routeId}") is not one of this bundle's routes: add it to routes, or leave route out to count every LLM route`,
      );
    else if (budget.route && budget.route.kind !== "llm")
      errors.push(
        `${at}.route: route ${budget.route.node.path} ("${budget.route.routeId}") is an MCP route: budgets count LLM spend, name an LLM route`,
      );
    if (budget.per === "agent" && !budget.agent && scope.agents.length === 0)
      errors.push(
        `${at}.per: "agent" counts each of this bundle's agents, and it has none: add an Agent, or count per "user"`,
      );
  }
  return errors;
}
