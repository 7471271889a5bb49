/**
 * The smallest useful Tollgate stack in a team's own app: it reuses the team's Okta authorization server
 * and writes the gateway bundle. The consumer test copies this file into a fresh app outside the
 * repository; it must compile under NodeNext and under the `cdktf init` template's CommonJS settings.
 */
import type { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { GatewayBundle, GatewayRoute, GuardPolicy, OktaApps } from "tollgate/constructs";

export interface PlatformStackProps {
  /** Adds an LLM route that does not require authentication, which must fail synth (TG-AUTH-001). */
  readonly unauthenticatedRoute?: boolean;
}

export class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: PlatformStackProps = {}) {
    super(scope, id);
    const authServer = OktaApps.fromAuthServerId(this, "AgentAuthServer", {
      authServerId: "aus1acmeplatform",
      audience: "https://agents.platform.acme.example",
      issuer: "https://acme.okta.com/oauth2/aus1acmeplatform",
    });
    const anthropic = { id: "anthropic", kind: "anthropic" as const, baseUrl: "https://api.anthropic.com" };
    const routes = [
      GatewayRoute.llm(this, "Anthropic", {
        pathPrefix: "/anthropic",
        providers: [{ ...anthropic, apiKeyEnv: "ANTHROPIC_API_KEY" }],
      }),
    ];
    if (props.unauthenticatedRoute) {
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
