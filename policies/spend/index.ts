/** Spend: model prices, the cost of an answer, and which budgets a request counts against. Pure. */
export * from "./budgets.js";
export * from "./cost.js";
export * from "./prices.js";
export * from "./windows.js";
