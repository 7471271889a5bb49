export * from "./verdict.js";
export * from "./pii.js";
export * from "./injection.js";
export * from "./credential-leak.js";
export * from "./policy.js";
export * from "./json-walk.js";
