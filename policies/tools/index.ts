export * from "./decide";
export * from "./names";
