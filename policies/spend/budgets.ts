/**
 * Which spend budgets a request counts against, and the store key of each. A budget is counted per user
 * (the verified `sub`), per agent (the bundle's agent behind the token) or per route; its optional `route`
 * and `agent` narrow the requests it applies to. Nothing a client sends chooses a key: the subject comes
 * from the verified token and the bundle.
 */
import type { SpendWindow } from "./windows.js";

export interface SpendBudget {
  readonly id: string;
  /** What the budget is counted per: each user, each agent, or each route has `maxUsd` per window. */
  readonly per: "user" | "agent" | "route";
  /** Only requests on this LLM route count. */
  readonly route?: string | undefined;
  /** Only requests of this agent count. */
  readonly agent?: string | undefined;
  readonly window: SpendWindow;
  readonly maxUsd: number;
}

/** What a request is, for the budgets: its route, its user, and its agent when the token names one. */
export interface SpendRequest {
  readonly route: string;
  readonly user: string;
  readonly agent?: string | undefined;
}

/** True when `budget` counts requests of `route` (whoever sends them). */
export function budgetCoversRoute(budget: SpendBudget, route: string): boolean {
  return budget.route === undefined || budget.route === route;
}

/** Who `request` is counted as under `budget`; undefined when the budget does not apply to it. */
export function budgetSubject(budget: SpendBudget, request: SpendRequest): string | undefined {
  if (!budgetCoversRoute(budget, request.route)) return undefined;
  if (budget.agent !== undefined && budget.agent !== request.agent) return undefined;
  if (budget.per === "user") return request.user;
  if (budget.per === "agent") return request.agent;
  return request.route;
}

/** The store key of `subject`'s spend under `budget` in window `windowId` (the subject encoded: `:` cannot collide). */
export function spendKey(budget: Pick<SpendBudget, "id" | "per">, windowId: string, subject: string): string {
  return `${budget.id}:${windowId}:${budget.per}:${encodeURIComponent(subject)}`;
}
