/** Tollgate constructs: import from here (`import { OktaApps } from "tollgate/constructs"`). */
export * from "./refs.js";
export * from "./okta-apps.js";
export * from "./imported-okta.js";
export * from "./imported-ecr.js";
export * from "./mcp-scopes.js";
export * from "./gateway-route.js";
export { OpenApiDocument } from "./openapi-document.js";
export { OpenApiToolSet, type OpenApiToolInfo } from "./openapi-tools.js";
export type { OpenApiOperationOptions, ToolAccess } from "../policies/openapi/tools.js";
export * from "./guard-policy.js";
export * from "./container-image.js";
export * from "./gateway-bundle.js";
export type { McpCatalogSettings, McpRoleEndpoint } from "./mcp-catalog.js";
export * from "./gateway-deployment.js";
export { GatewayIngress, type AlbExposure, type CertManagerExposure, type GatewayExposure } from "./gateway-ingress.js";
export { GatewayRedis, type GatewayRedisProps } from "./gateway-redis.js";
export {
  GatewayObservability,
  type GatewayObservabilityProps,
  type ObservabilityTarget,
} from "./gateway-observability.js";
export * from "./agentcore-runtime.js";
export * from "./agentcore-gateway.js";
export { TollgateChecks, synthErrors } from "./checks.js";
export { RULES, type RuleDefinition, type RuleId, type RuleSeverity } from "./rules.js";
export { isDevEnvironment } from "./environment.js";
export { Agent, type AgentProps, type AgentRuntimeSettings } from "./agent.js";
export type { GatewaySpendSettings, SpendBudget, SpendPrice, SpendWindow } from "./spend-budgets.js";
