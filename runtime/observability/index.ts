export * from "./audit";
export * from "./metrics";
export * from "./tracing";
export * from "./telemetry";
export { scrubText, scrubValue, SCRUBBED } from "./scrub";
export * from "./context";
