/**
 * Spend changes for `tollgate diff`: budgets added, removed, or changed (cap, window, what they count) and price
 * table changes. A budget that names an agent, or counts per agent, is reported with the agent's authority
 * (`agent-budget`); the others (per user, per route) as `spend-budget`; prices as `spend-price`.
 *
 * Loosening is widening: a budget removed, a cap raised or its window lengthened (more dollars per second), a
 * lower price (more calls fit under a cap), a price for a model that had none (it becomes usable where budgets
 * apply). Re-scoping a budget (what it counts per, its agent or route) is widening too: some callers may no longer
 * be capped, and their counts start afresh.
 */
import type { SynthBundle } from "../bundle/index.js";
import { DEFAULT_PRICES, type ModelPrice, type SpendWindow, listedPriceOf, priceTable } from "../spend/index.js";
import type { Change, Effect, SpendBudgetView, SpendPriceView } from "./types.js";

type Spend = SynthBundle["spend"];
type BundleBudget = Spend["budgets"][number];

const DAY = 86_400;
/** A calendar month, for comparing caps across windows: the mean Gregorian month. */
const MONTH = 30.436875 * DAY;

const windowSeconds = (w: SpendWindow) => (w === "day" ? DAY : w === "month" ? MONTH : w.seconds);
const windowText = (w: SpendWindow) => (typeof w === "string" ? w : `${w.seconds}s`);

function view(b: BundleBudget): SpendBudgetView {
  return {
    per: b.per,
    ...(b.agent ? { agent: b.agent } : {}),
    ...(b.route ? { route: b.route } : {}),
    window: b.window,
    maxUsd: b.maxUsd,
  };
}

/** `5 USD per day per user through agent triage on route openai`. */
function describe(b: SpendBudgetView): string {
  const scope = [
    `per ${b.per}`,
    ...(b.agent ? [`through agent ${b.agent}`] : []),
    ...(b.route ? [`on route ${b.route}`] : []),
  ];
  return `${b.maxUsd} USD per ${windowText(b.window)} ${scope.join(" ")}`;
}

const sameScope = (a: SpendBudgetView, b: SpendBudgetView) =>
  a.per === b.per && a.agent === b.agent && a.route === b.route;

/** Positive when `b` lets more be spent per second than `a`. */
function compareCaps(a: SpendBudgetView, b: SpendBudgetView): number {
  const rate = (x: SpendBudgetView) => x.maxUsd / windowSeconds(x.window);
  const [ra, rb] = [rate(a), rate(b)];
  return Math.abs(ra - rb) < 1e-12 ? 0 : rb > ra ? 1 : -1;
}

function budgetChange(
  gateway: string,
  id: string,
  before: SpendBudgetView | undefined,
  after: SpendBudgetView | undefined,
): Change | undefined {
  const subject = (after ?? before)!;
  const agent = subject.agent ?? (subject.per === "agent" ? "*" : undefined);
  const who = agent === undefined ? "" : agent === "*" ? "every agent: " : `agent ${agent}: `;
  const common = { gateway, budget: id, ...(before ? { before } : {}), ...(after ? { after } : {}) };
  let change: "added" | "removed" | "changed";
  let effect: Effect;
  let summary: string;
  if (!before || !after) {
    change = after ? "added" : "removed";
    effect = after ? "narrowing" : "widening";
    summary = after
      ? `${who}spend budget ${id} added: ${describe(after)}`
      : `${who}spend budget ${id} removed (it capped ${describe(before!)})`;
  } else {
    if (JSON.stringify(before) === JSON.stringify(after)) return undefined;
    change = "changed";
    const order = sameScope(before, after) ? compareCaps(before, after) : 1;
    effect = order > 0 ? "widening" : order < 0 ? "narrowing" : "neutral";
    const verb = !sameScope(before, after) ? "re-scoped" : order > 0 ? "raised" : order < 0 ? "lowered" : "changed";
    summary = `${who}spend budget ${id} ${verb}: ${describe(before)} → ${describe(after)}`;
  }
  return agent === undefined
    ? { kind: "spend-budget", effect, change, summary, ...common }
    : { kind: "agent-budget", effect, change, summary, agent, ...common };
}

const PRICE_PARTS = ["input", "cachedInput", "cacheWrite", "output"] as const;

const priceText = (p: ModelPrice | undefined) =>
  p === undefined
    ? "no price"
    : `${p.input}/${p.cachedInput}/${p.cacheWrite}/${p.output} USD per M tokens (input/cached/cache write/output)`;

function priceView(p: ModelPrice | undefined): SpendPriceView | null {
  return p ? { input: p.input, cachedInput: p.cachedInput, cacheWrite: p.cacheWrite, output: p.output } : null;
}

/** Lower anywhere is widening (more fits under a cap); only higher is narrowing; no price ↔ a price by presence. */
function priceEffect(a: ModelPrice | undefined, b: ModelPrice | undefined): Effect {
  if (!a || !b) return b ? "widening" : "narrowing";
  if (PRICE_PARTS.some((k) => b[k] < a[k])) return "widening";
  return PRICE_PARTS.some((k) => b[k] > a[k]) ? "narrowing" : "neutral";
}

function priceChanges(gateway: string, a: Spend, b: Spend): Change[] {
  const changes: Change[] = [];
  const tableA = priceTable(a.prices, a.defaultPrices ? DEFAULT_PRICES : undefined, a.unknownModelPrice);
  const tableB = priceTable(b.prices, b.defaultPrices ? DEFAULT_PRICES : undefined, b.unknownModelPrice);
  const push = (model: string, before: ModelPrice | undefined, after: ModelPrice | undefined, what: string) => {
    if (JSON.stringify(priceView(before)) === JSON.stringify(priceView(after))) return;
    changes.push({
      kind: "spend-price",
      effect: priceEffect(before, after),
      gateway,
      model,
      before: priceView(before),
      after: priceView(after),
      summary: `${what}: ${priceText(before)} → ${priceText(after)}`,
    });
  };
  if (a.defaultPrices !== b.defaultPrices)
    changes.push({
      kind: "spend-price",
      effect: b.defaultPrices ? "widening" : "narrowing",
      gateway,
      model: "(default table)",
      before: null,
      after: null,
      summary: b.defaultPrices
        ? "spend.defaultPrices turned on: Tollgate's price table prices its models again"
        : "spend.defaultPrices turned off: only the bundle's own prices apply (other models are refused where a budget applies)",
    });
  for (const model of [...new Set([...Object.keys(a.prices), ...Object.keys(b.prices)])].sort())
    push(model, listedPriceOf(tableA, model), listedPriceOf(tableB, model), `price of ${model}`);
  push("(unknown models)", tableA.unknownModel, tableB.unknownModel, "price of models the table does not list");
  return changes;
}

/** Spend budgets and prices that differ between two versions of one gateway's bundle. */
export function diffSpend(gateway: string, base: SynthBundle | undefined, head: SynthBundle | undefined): Change[] {
  if (!base || !head) return [];
  const before = new Map(base.spend.budgets.map((b) => [b.id, view(b)]));
  const after = new Map(head.spend.budgets.map((b) => [b.id, view(b)]));
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort();
  return [
    ...ids.flatMap((id) => budgetChange(gateway, id, before.get(id), after.get(id)) ?? []),
    ...priceChanges(gateway, base.spend, head.spend),
  ];
}
