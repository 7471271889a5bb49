/**
 * The smallest useful Tollgate stack in a team's own cdktf app, in one file as `cdktf init` lays it out: it
 * reuses the team's Okta authorization server and writes the gateway bundle. The consumer test copies it
 * into fresh apps outside the repository, where it must compile under NodeNext and under the cdktf init
 * template's CommonJS settings. `--unauthenticated-route` adds the mistake Tollgate's checks must catch.
 */
import type { Construct } from "constructs";
import { App, TerraformStack } from "cdktf";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { GatewayBundle, GatewayRoute, GuardPolicy, OktaApps } from "tollgate/constructs";

class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string, unauthenticatedRoute: boolean) {
    super(scope, id);
    new OktaProvider(this, "okta", { orgName: "acme", baseUrl: "okta.com" });
    // The team's existing server: nothing is created or changed on it. Terraform reads it at plan (by name)
    // and fails unless the gateway's URL, `audience`, is one of its audiences.
    const authServer = OktaApps.fromAuthServerId(this, "AgentAuthServer", {
      name: "platform",
      authServerId: "aus1acmeplatform",
      audience: "https://agents.platform.acme.example",
      issuer: "https://acme.okta.com/oauth2/aus1acmeplatform",
    });
    const anthropic = { id: "anthropic", kind: "anthropic", baseUrl: "https://api.anthropic.com" } as const;
    const routes = [
      GatewayRoute.llm(this, "Anthropic", {
        pathPrefix: "/anthropic",
        providers: [{ ...anthropic, apiKeyEnv: "ANTHROPIC_API_KEY" }],
      }),
    ];
    if (unauthenticatedRoute) {
      routes.push(
        GatewayRoute.llm(this, "Open", {
          pathPrefix: "/open",
          providers: [{ ...anthropic, apiKeyEnv: "ANTHROPIC_API_KEY" }],
          requireAuthentication: false,
        }),
      );
    }
    new GatewayBundle(this, "Gateway", {
      environment: "staging",
      authServer,
      routes,
      defaultPolicy: new GuardPolicy(this, "Default", { pii: { mode: "mask" } }),
    });
  }
}

const app = new App();
new PlatformStack(app, "platform", process.argv.includes("--unauthenticated-route"));
app.synth();
