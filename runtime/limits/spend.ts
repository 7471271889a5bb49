/**
 * Spend budgets at runtime (docs/spend.md): before a call, the budgets that apply to it must not be spent;
 * after it, its cost from the provider's usage is added to each of them. The call that crosses a cap
 * completes and is billed in full (an answer is never cut off midway); the next one is refused.
 *
 * Compiled once per bundle: the price table and, per route, the budgets that can apply there. Counts live
 * in a {@link SpendStore}: this process's memory, or Redis (every replica shares one count). Redis
 * unreachable: `rateLimitStore.onUnavailable` decides, as for the rate limits (fail-closed refuses).
 */
import type { Bundle } from "../../policies/bundle/index.js";
import {
  DEFAULT_PRICES,
  type ModelPrice,
  type PriceTable,
  type SpendBudget,
  type TokenUsage,
  budgetCoversRoute,
  budgetSubject,
  costMicroUsd,
  describeWindow,
  listedPriceOf,
  priceOf,
  priceTable,
  spendKey,
  toMicroUsd,
  toUsd,
  windowAt,
} from "../../policies/spend/index.js";
import { retryAfterSeconds } from "../../policies/limits/index.js";
import type { MaybePromise } from "../http/stage.js";
import type { ActiveConfig, Principal } from "../http/types.js";
import type { AuditLog } from "../observability/audit.js";
import { MemorySpendStore, RedisSpendStore, type SpendEntry, type SpendStore } from "./spend-store.js";

/** One budget a request counts against, in the window it was admitted in. */
export interface BudgetWindow {
  readonly budget: SpendBudget;
  readonly key: string;
  readonly endsAt: number;
}

/** The budgets an admitted request is billed to (none: it counts against no budget). */
export type SpendCharge = readonly BudgetWindow[];

/** Why a request was refused before the call. */
export type SpendRefusal =
  | {
      readonly kind: "spent";
      readonly budget: SpendBudget;
      readonly spentUsd: number;
      readonly maxUsd: number;
      readonly windowEndsAt: Date;
      readonly retryAfterSeconds: number;
    }
  | { readonly kind: "unavailable"; readonly retryAfterSeconds: number };

export type SpendDecision =
  | { readonly allowed: true; readonly charge: SpendCharge }
  | { readonly allowed: false; readonly refusal: SpendRefusal };

export interface SpendLedger {
  readonly prices: PriceTable;
  /** Resolves once the Redis store is connected (or its first attempt failed, or 2 s passed). */
  ready(): Promise<void>;
  /** The budgets `principal` counts against on `route` now; empty when none applies (no store read then). */
  budgetsFor(principal: Principal, route: string): SpendCharge;
  /** Whether any budget of `charge` is spent. Synchronous with the memory store. */
  admit(principal: Principal, charge: SpendCharge): MaybePromise<SpendDecision>;
  /** The cost of an answer: priced by the model the provider reported, else the model it was sent. */
  cost(usage: TokenUsage, answered: string | undefined, sent: string): number | undefined;
  /** Adds `micro` to every budget of `charge`; never rejects (a failure is audited). */
  bill(principal: Principal, charge: SpendCharge, micro: number): MaybePromise<void>;
  close(): Promise<void>;
}

export interface SpendLedgerOptions {
  readonly audit?: AuditLog;
  /** The memory store to count in (the server keeps one across reloads). @default a new one */
  readonly memory?: MemorySpendStore;
  /** @default Date.now */
  readonly now?: () => number;
}

const NO_CHARGE: SpendCharge = [];
const ADMITTED_FREE: SpendDecision = { allowed: true, charge: NO_CHARGE };

/** Builds the ledger of a bundle. With a Redis store, await {@link SpendLedger.ready} before serving. */
export function createSpendLedger(config: ActiveConfig, options: SpendLedgerOptions = {}): SpendLedger {
  const { spend } = config.bundle;
  const now = options.now ?? Date.now;
  const prices = priceTable(spend.prices, spend.defaultPrices ? DEFAULT_PRICES : undefined, spend.unknownModelPrice);
  const byRoute = budgetsByRoute(config.bundle);
  const storeConfig = config.bundle.rateLimitStore;
  const failOpen = storeConfig.type === "redis" && storeConfig.onUnavailable === "fail-open";
  // Without a budget nothing is counted, so no Redis connection is opened.
  const redis =
    spend.budgets.length > 0 && storeConfig.type === "redis"
      ? new RedisSpendStore(config.secrets.read(storeConfig.url), `${storeConfig.keyPrefix}spend:`)
      : undefined;
  const ownMemory = redis || options.memory ? undefined : new MemorySpendStore(now);
  const store: SpendStore = redis ?? options.memory ?? (ownMemory as MemorySpendStore);

  const unavailable = (principal: Principal, what: string): void =>
    options.audit?.record({
      kind: "config",
      decision: "error",
      principal: principal.subject,
      rule: "spend",
      reason: `${what}: spend store unavailable`,
    });

  return {
    prices,
    ready: () => redis?.ready() ?? Promise.resolve(),
    budgetsFor(principal, route) {
      const budgets = byRoute.get(route);
      if (!budgets) return NO_CHARGE;
      const request = { route, user: principal.subject, agent: principal.agent };
      const at = now();
      const charge: BudgetWindow[] = [];
      for (const budget of budgets) {
        const subject = budgetSubject(budget, request);
        if (subject === undefined) continue;
        const window = windowAt(budget.window, at);
        charge.push({ budget, key: spendKey(budget, window.id, subject), endsAt: window.endsAt });
      }
      return charge;
    },
    admit(principal, charge) {
      if (charge.length === 0) return ADMITTED_FREE;
      let spent: MaybePromise<number[]>;
      try {
        spent = store.read(charge.map((c) => c.key));
      } catch {
        spent = Promise.reject(new Error("unavailable"));
      }
      const decide = (counts: number[]): SpendDecision => {
        for (let i = 0; i < charge.length; i++) {
          const { budget, endsAt } = charge[i] as BudgetWindow;
          const maxMicro = toMicroUsd(budget.maxUsd);
          const micro = counts[i] ?? 0;
          if (micro >= maxMicro)
            return {
              allowed: false,
              refusal: {
                kind: "spent",
                budget,
                spentUsd: toUsd(micro),
                maxUsd: toUsd(maxMicro),
                windowEndsAt: new Date(endsAt),
                retryAfterSeconds: retryAfterSeconds(endsAt - now()),
              },
            };
        }
        return { allowed: true, charge };
      };
      if (!(spent instanceof Promise)) return decide(spent);
      return spent.then(decide, () => {
        unavailable(principal, "could not check the spend budgets");
        return failOpen
          ? { allowed: true, charge }
          : { allowed: false, refusal: { kind: "unavailable", retryAfterSeconds: 1 } };
      });
    },
    cost(usage, answered, sent) {
      const price: ModelPrice | undefined =
        (answered !== undefined ? listedPriceOf(prices, answered) : undefined) ?? priceOf(prices, sent);
      return price && costMicroUsd(usage, price);
    },
    bill(principal, charge, micro) {
      if (charge.length === 0 || !(micro > 0)) return;
      const entries: SpendEntry[] = charge.map(({ key, endsAt }) => ({ key, micro, endsAt }));
      const failed = () => unavailable(principal, `could not bill ${toUsd(micro)} USD`);
      try {
        const added = store.add(entries);
        if (added instanceof Promise) return added.catch(failed);
      } catch {
        failed();
      }
    },
    async close() {
      ownMemory?.dispose();
      await store.close();
    },
  };
}

/** Per LLM route, the budgets that can apply there (routes without any are left out). */
function budgetsByRoute(bundle: Bundle): Map<string, SpendBudget[]> {
  const byRoute = new Map<string, SpendBudget[]>();
  for (const route of bundle.llm.routes) {
    const budgets = bundle.spend.budgets.filter((budget) => budgetCoversRoute(budget, route.id));
    if (budgets.length > 0) byRoute.set(route.id, budgets);
  }
  return byRoute;
}

/** How a refusal reads to the client: which budget, what it counts, spent of the cap, when it resets. */
export function describeSpendRefusal(refusal: Extract<SpendRefusal, { kind: "spent" }>): string {
  const { budget } = refusal;
  const scope = [
    `per ${budget.per}`,
    ...(budget.route ? [`route ${budget.route}`] : []),
    ...(budget.agent ? [`agent ${budget.agent}`] : []),
    describeWindow(budget.window),
  ].join(", ");
  return `spend budget "${budget.id}" (${scope}) is spent: ${refusal.spentUsd} of ${refusal.maxUsd} USD; it resets at ${refusal.windowEndsAt.toISOString()}`;
}
