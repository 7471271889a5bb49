/** A small, valid platform in a bare stack, with knobs to break one thing at a time. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { TerraformStack, Testing } from "cdktf";
import {
  AgentCoreRuntime,
  type AgentAppProps,
  type AgentCoreRuntimeProps,
  GatewayBundle,
  type GatewayBundleProps,
  GatewayDeployment,
  type GatewayDeploymentProps,
  GatewayRoute,
  GuardPolicy,
  type McpRouteProps,
  McpScopes,
  type McpScopesProps,
  OktaApps,
} from "../../constructs/index.js";
import { testAppDir } from "./synth-helpers.js";

export const DIGEST = `sha256:${"ab".repeat(32)}`;

export interface PlatformKnobs {
  readonly environment?: string;
  readonly scopes?: McpScopesProps["scopes"];
  readonly privileged?: readonly string[];
  readonly grants?: readonly [scope: string, tools: string[]][];
  readonly mcp?: Partial<McpRouteProps>;
  readonly llmRequireAuth?: boolean;
  readonly bundle?: Partial<GatewayBundleProps>;
  readonly gateway?: Partial<GatewayDeploymentProps>;
  readonly agent?: Partial<AgentCoreRuntimeProps>;
  /** The Okta agent app. @default private_key_jwt, public keys from the variable */
  readonly agentApp?: AgentAppProps;
  /** More routes for the gateway, built in the platform's stack. */
  readonly extraRoutes?: (stack: TerraformStack) => GatewayRoute[];
  /** The gateway URL (and token audience). @default "https://gw.acme.example" */
  readonly publicUrl?: (stack: TerraformStack) => string;
}

export function smallPlatform(knobs: PlatformKnobs = {}) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "small");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new KubernetesProvider(stack, "kubernetes", {});
  const environment = knobs.environment ?? "prod";
  const publicUrl = knobs.publicUrl?.(stack) ?? "https://gw.acme.example";
  const okta = new OktaApps(stack, "Okta", {
    name: "small",
    gatewayUri: publicUrl,
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
    ...(knobs.agentApp ? { agentApp: knobs.agentApp } : {}),
  });
  const scopes = new McpScopes(stack, "Scopes", {
    authServer: okta,
    ...(knobs.scopes ? { scopes: knobs.scopes } : {}),
    ...(knobs.privileged ? { privileged: knobs.privileged } : {}),
  });
  const llm = GatewayRoute.llm(stack, "OpenAI", {
    pathPrefix: "/openai",
    providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
    ...(knobs.llmRequireAuth === false ? { requireAuthentication: false } : {}),
  });
  const docs = GatewayRoute.mcp(stack, "Docs", {
    upstreamId: "docs",
    url: "https://docs.acme.example/mcp",
    ...knobs.mcp,
  });
  for (const [scope, tools] of knobs.grants ?? [["mcp:read", ["get_*", "search_*"]]])
    scopes.grantTools(scope, docs, ...tools);
  const bundle = new GatewayBundle(stack, "GatewayBundle", {
    name: "gateway",
    environment,
    authServer: okta,
    clients: okta,
    routes: [llm, docs, ...(knobs.extraRoutes?.(stack) ?? [])],
    scopes,
    defaultPolicy: new GuardPolicy(stack, "Default"),
    // Several replicas share limits and MCP sessions only through Redis (TG-SESSION-001).
    rateLimitStore: { type: "redis" },
    ...knobs.bundle,
  });
  const gateway = new GatewayDeployment(stack, "Gateway", {
    bundle,
    image: { repository: "ghcr.io/acme/tollgate", digest: DIGEST },
    ...knobs.gateway,
  });
  const agent = new AgentCoreRuntime(stack, "Agent", {
    runtimeName: "small_agent",
    authServer: okta,
    clients: okta,
    gateway,
    imageDigest: DIGEST,
    ...knobs.agent,
  });
  return { stack, okta, scopes, llm, docs, bundle, gateway, agent };
}
