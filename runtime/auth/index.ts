export * from "./challenge";
export * from "./metadata";
export * from "./issuer-keys";
export * from "./verifier";
export * from "./raw-token";
export * from "./authenticate";
