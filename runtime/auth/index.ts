export * from "./challenge.js";
export * from "./metadata.js";
export * from "./issuer-keys.js";
export * from "./verifier.js";
export * from "./raw-token.js";
export * from "./authenticate.js";
