export * from "./decide.js";
export * from "./names.js";
