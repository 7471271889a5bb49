import type { Construct } from "constructs";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { TerraformStack } from "cdktf";
import { GatewayBundle, GatewayDeployment, GatewayRoute, GuardPolicy, OktaApps } from "../../constructs/index.js";

/**
 * The smallest useful gateway: Okta identities and one OpenAI route with the default guards,
 * deployed on Kubernetes. No MCP, no AgentCore.
 */
export class MinimalStack extends TerraformStack {
  public readonly gateway: GatewayDeployment;

  constructor(scope: Construct, id = "tollgate-minimal") {
    super(scope, id);
    new OktaProvider(this, "okta", { orgName: "acme", baseUrl: "okta.com" });
    new KubernetesProvider(this, "kubernetes", { configPath: "~/.kube/config" });

    const okta = new OktaApps(this, "Okta", {
      name: id,
      gatewayUri: "https://llm.acme.example",
      userApp: { redirectUris: ["https://chat.acme.example/callback"] },
    });
    const openai = GatewayRoute.llm(this, "OpenAI", {
      pathPrefix: "/openai",
      providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
    });
    const bundle = new GatewayBundle(this, "GatewayBundle", {
      name: "gateway",
      environment: "dev",
      authServer: okta,
      clients: okta,
      routes: [openai],
      defaultPolicy: new GuardPolicy(this, "Default", { limits: { requestsPerWindow: 60, tokensPerWindow: 100_000 } }),
    });
    this.gateway = new GatewayDeployment(this, "Gateway", {
      bundle,
      image: { repository: "ghcr.io/tollgate-dev/tollgate", tag: "dev" },
      replicas: 1,
    });
  }
}
