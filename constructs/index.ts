/** Tollgate constructs: import from here (`import { OktaApps } from "tollgate/constructs"`). */
export * from "./refs.js";
export * from "./okta-apps.js";
export * from "./mcp-scopes.js";
export * from "./gateway-route.js";
export * from "./guard-policy.js";
export * from "./container-image.js";
export * from "./gateway-deployment.js";
export * from "./gateway-redis.js";
export * from "./agentcore-runtime.js";
export * from "./agentcore-gateway.js";
export { KubernetesDeployment, type KubernetesDeploymentConfig } from "./kubernetes-deployment.js";
export * from "./checks.js";
export { writeOnSynth, type SynthFileSource } from "./bundle-output.js";
