import type { Construct } from "constructs";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { S3Backend, TerraformStack } from "cdktf";
import { GatewayBundle, GatewayDeployment, GatewayRoute, GuardPolicy, McpScopes, OktaApps } from "tollgate/constructs";

/**
 * A platform team's own stack, which already has its providers, its backend, its namespace and an
 * Okta authorization server, and adds a Tollgate gateway with a few constructs imported by package name
 * (`tollgate/constructs`). Nothing else is needed: the bundle is written to
 * cdktf.out/stacks/<stack>/gateway.bundle.json on synth and the Tollgate checks run.
 */
export class PlatformTeamStack extends TerraformStack {
  public readonly gateway: GatewayDeployment;

  constructor(scope: Construct, id = "platform-team") {
    super(scope, id);
    // --- what the team already had ---
    new S3Backend(this, {
      bucket: "acme-platform-state",
      key: "platform-team/terraform.tfstate",
      region: "us-east-1",
      encrypt: true,
    }).addOverride("use_lockfile", true);
    new OktaProvider(this, "okta", { orgName: "acme", baseUrl: "okta.com" });
    new KubernetesProvider(this, "kubernetes", { configPath: "~/.kube/config", configContext: "platform" });
    const namespace = new NamespaceV1(this, "PlatformNamespace", { metadata: { name: "platform" } });

    // The team's Okta authorization server: imported, not created or changed. With its name, Terraform
    // reads it at plan and fails unless its id matches and the gateway's URL is one of its audiences.
    const authServer = OktaApps.fromAuthServerId(this, "PlatformAuthServer", {
      name: "platform",
      authServerId: "aus1acmeplatform",
      audience: "https://agents.platform.acme.example",
      issuer: "https://acme.okta.com/oauth2/aus1acmeplatform",
    });

    // --- what Tollgate adds ---
    const okta = new OktaApps(this, "AgentIdentities", {
      name: "platform-agents",
      authServer,
      userGroup: { existingGroupId: "00g1acmeengineers" },
      userApp: { redirectUris: ["https://ide.acme.example/oauth/callback", "http://127.0.0.1:33418/callback"] },
    });
    const scopes = new McpScopes(this, "AgentScopes", {
      authServer,
      scopes: ["mcp:read", "mcp:write"],
      privileged: ["mcp:write"],
    });
    const anthropic = GatewayRoute.llm(this, "Anthropic", {
      pathPrefix: "/anthropic",
      providers: [
        { id: "anthropic", kind: "anthropic", baseUrl: "https://api.anthropic.com", apiKeyEnv: "ANTHROPIC_API_KEY" },
      ],
    });
    const docs = GatewayRoute.mcp(this, "Docs", {
      upstreamId: "docs",
      url: "https://docs-mcp.platform.acme.example/mcp",
    });
    scopes.grantTools("mcp:read", docs, "search_*", "get_*");
    scopes.grantTools("mcp:write", docs, "create_page", "update_page");

    const bundle = new GatewayBundle(this, "GatewayBundle", {
      name: "gateway",
      environment: "staging",
      authServer,
      clients: okta,
      routes: [anthropic, docs],
      scopes,
      defaultPolicy: new GuardPolicy(this, "Default", { pii: { mode: "mask" }, limits: { requestsPerWindow: 30 } }),
      // The team's Redis (REDIS_URL in its Secret): the replicas share budgets and MCP sessions there.
      rateLimitStore: { type: "redis" },
    });
    this.gateway = new GatewayDeployment(this, "Gateway", {
      bundle,
      image: {
        repository: "ghcr.io/tollgate-dev/tollgate",
        digest: "sha256:4f8c7b1e9d2a6c3f5e0b8a7d6c5b4a3928171615141312111009080706050403",
      },
      namespace: namespace.metadata.name,
      createNamespace: false,
      secrets: { existingSecretName: "tollgate-provider-keys" },
    });
  }
}
