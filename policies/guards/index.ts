export * from "./verdict.js";
// The PII prefilter's internals (measureText, the detector table) stay out of the package's API.
export { type PiiDetectorName, type PiiGuard, compilePiiGuard, luhnValid } from "./pii.js";
export * from "./injection.js";
export * from "./credential-leak.js";
export * from "./policy.js";
export * from "./json-walk.js";
