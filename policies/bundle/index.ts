export * from "./schema";
export * from "./placeholders";
export * from "./digest";
export * from "./errors";
export * from "./overlay";
export * from "./validate";
export { bundleJsonSchema } from "./json-schema";
