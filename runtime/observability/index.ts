export * from "./audit.js";
export * from "./metrics.js";
export * from "./tracing.js";
export * from "./telemetry.js";
export { scrubText, scrubValue, SCRUBBED } from "./scrub.js";
export * from "./context.js";
export * from "./trace-context.js";
