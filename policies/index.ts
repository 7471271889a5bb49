/**
 * Tollgate's policies: the gateway bundle's schema and validation, the decisions the gateway and the review
 * tools share, and the review of a change. Import from here (`import { decideTool } from "tollgate/policies"`).
 */
export * from "./bundle/index.js";
export * from "./guards/index.js";
export * from "./limits/index.js";
export * from "./oauth/index.js";
export * from "./review/index.js";
export * from "./spend/index.js";
export * from "./tools/index.js";
// Both the guards and the review name their guards; the guards' name is the bundle's.
export type { GuardName } from "./guards/index.js";
