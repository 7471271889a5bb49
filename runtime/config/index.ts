export * from "./load";
export * from "./secrets";
export * from "./watch";
