/** Tollgate constructs: import from here (`import { OktaApps } from "tollgate/constructs"`). */
export * from "./refs";
export * from "./okta-apps";
export * from "./mcp-scopes";
export * from "./gateway-route";
export * from "./guard-policy";
export * from "./container-image";
export * from "./gateway-deployment";
export * from "./gateway-redis";
export * from "./agentcore-runtime";
export * from "./agentcore-gateway";
export { KubernetesDeployment, type KubernetesDeploymentConfig } from "./kubernetes-deployment";
export * from "./checks";
export { writeOnSynth, type SynthFileSource } from "./bundle-output";
