/**
 * Spend budgets on the completion path (docs/spend.md): the `spend` stage, after `limit`, refuses a request
 * whose budget is spent (429, Retry-After to the window's end) or whose model has no price while a budget
 * applies (400, naming the model and the fix); `spendCost` and `billSpend` price the answer and count it
 * (the `record` stage calls them).
 */
import { priceOf } from "../../policies/spend/index.js";
import { type MaybePromise, type Stage, andThen } from "../http/stage.js";
import { type SpendDecision, describeSpendRefusal } from "../limits/spend.js";
import { ATTR } from "../observability/index.js";
import type { Completion, LlmRefusal } from "./exchange.js";
import { NO_USAGE } from "./usage.js";

type CompletionStage = Stage<Completion, LlmRefusal>;

export const spend: CompletionStage = {
  name: "spend",
  attributes: (x) => ({ [ATTR.ROUTE]: x.route.config.id }),
  run(x) {
    const ledger = x.services.spend;
    const charge = ledger.budgetsFor(x.ctx.principal, x.route.config.id);
    if (charge.length === 0) return undefined;
    const unpriced = unpricedModel(x);
    if (unpriced)
      return {
        error: {
          status: 400,
          type: "invalid_request_error",
          code: "model_not_priced",
          message: `spend: model "${unpriced.model}" (provider "${unpriced.provider}") has no price, and spend budget "${charge[0]?.budget.id}" applies to this request: use a priced model, or add the model to the bundle's spend.prices (or set spend.unknownModelPrice)`,
        },
        audit: {
          decision: "deny",
          rule: `spend: ${charge[0]?.budget.id}`,
          reason: `model "${unpriced.model}" has no price`,
        },
      };
    return andThen(ledger.admit(x.ctx.principal, charge), (decision) => admitted(x, decision));
  },
};

function admitted(x: Completion, decision: SpendDecision): LlmRefusal | undefined {
  if (decision.allowed) {
    x.spendCharge = decision.charge;
    return undefined;
  }
  const { refusal } = decision;
  const headers = { "retry-after": String(refusal.retryAfterSeconds) };
  if (refusal.kind === "unavailable")
    return {
      error: {
        status: 503,
        type: "api_error",
        code: "spend_store_unavailable",
        message: "spend: the spend store is unreachable; retry shortly",
      },
      headers,
      audit: { decision: "error", rule: "spend", reason: "spend store unavailable" },
    };
  const { budget } = refusal;
  return {
    error: {
      status: 429,
      type: "rate_limit_error",
      code: "spend_budget_exceeded",
      message: describeSpendRefusal(refusal),
      details: {
        budget: {
          id: budget.id,
          per: budget.per,
          ...(budget.route ? { route: budget.route } : {}),
          ...(budget.agent ? { agent: budget.agent } : {}),
          window: budget.window,
          spentUsd: refusal.spentUsd,
          maxUsd: refusal.maxUsd,
          windowEndsAt: refusal.windowEndsAt.toISOString(),
        },
      },
    },
    headers,
    audit: { decision: "rate-limited", rule: `spend: ${budget.id}`, reason: "spend budget spent" },
  };
}

/** The first provider the request may go to whose model (after its model map) has no price. */
function unpricedModel(x: Completion): { provider: string; model: string } | undefined {
  for (const provider of x.candidates) {
    const model = provider.mapModel(x.model);
    if (!priceOf(x.services.spend.prices, model)) return { provider: provider.id, model };
  }
  return undefined;
}

/** The answer's cost in micro-dollars, from the provider's usage; undefined without usage or a price. */
export function spendCost(x: Completion): number | undefined {
  if (!x.usage || x.usage === NO_USAGE || !x.provider) return undefined;
  return x.services.spend.cost(x.usage, x.answeredModel, x.provider.mapModel(x.model));
}

/** Counts the answer's cost against the budgets it was admitted under. */
export function billSpend(x: Completion, micro: number | undefined): MaybePromise<void> {
  if (micro === undefined || x.spendCharge.length === 0) return undefined;
  return x.services.spend.bill(x.ctx.principal, x.spendCharge, micro);
}
