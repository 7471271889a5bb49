export * from "./load.js";
export * from "./secrets.js";
export * from "./watch.js";
