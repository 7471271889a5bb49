export * from "./schema.js";
export * from "./placeholders.js";
export * from "./digest.js";
export * from "./errors.js";
export * from "./overlay.js";
export * from "./validate.js";
export { bundleJsonSchema } from "./json-schema.js";
