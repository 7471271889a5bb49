export * from "./verdict";
export * from "./pii";
export * from "./injection";
export * from "./credential-leak";
export * from "./policy";
export * from "./json-walk";
