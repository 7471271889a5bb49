import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { TerraformStack, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { McpScopes, OktaApps, TOKEN_EXCHANGE_GRANT } from "../../constructs/index.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";
import { environmentStack, resources, single, synthJson, testAppDir } from "./synth-helpers.js";

describe("OktaApps", () => {
  const tf = synthJson(environmentStack("prod"));
  // OktaApps' own apps (the environment's agents have apps of their own: test/constructs/agent.test.ts).
  const apps = Object.entries(tf.resource.okta_app_oauth ?? {})
    .filter(([name]) => name.includes("_Okta_"))
    .map(([, app]) => app);
  const userApp = apps.find((a) => a.type === "browser");
  const agentApp = apps.find((a) => a.type === "service");

  it("creates a dedicated authorization server whose audience is the gateway's canonical URI", () => {
    const server = single(tf, "okta_auth_server");
    expect(server.audiences).toEqual([ENVIRONMENTS.prod.gatewayUrl]);
  });

  it("requires PKCE on the user app, with exact https redirects and no wildcard", () => {
    expect(apps).toHaveLength(2);
    expect(userApp).toMatchObject({
      pkce_required: true,
      token_endpoint_auth_method: "none",
      wildcard_redirect: "DISABLED",
      grant_types: ["authorization_code", "refresh_token"],
      redirect_uris: [...ENVIRONMENTS.prod.okta.redirectUris],
      consent_method: "REQUIRED",
    });
  });

  it("gives the agent app client credentials and token exchange with private_key_jwt: no client secret exists", () => {
    expect(agentApp).toMatchObject({ token_endpoint_auth_method: "private_key_jwt" });
    expect(agentApp?.grant_types).toEqual(["client_credentials", TOKEN_EXCHANGE_GRANT]);
    expect(JSON.stringify(agentApp)).not.toMatch(/client_secret|client_basic_secret|omit_secret/);
  });

  it("lets users use authorization code and token exchange, 60-minute access tokens, only the scopes that exist", () => {
    const rules = resources(tf, "okta_auth_server_policy_rule");
    const users = rules.find((r) => r.name === "users");
    expect(users).toMatchObject({
      grant_type_whitelist: ["authorization_code", TOKEN_EXCHANGE_GRANT],
      access_token_lifetime_minutes: 60,
    });
    expect(users?.scope_whitelist).toEqual([
      "openid",
      "profile",
      "email",
      "offline_access",
      "mcp:admin",
      "mcp:read",
      "mcp:write",
    ]);
    expect(users?.depends_on).toHaveLength(3);
  });

  it("never issues a privileged scope to client credentials (no human consented)", () => {
    const agents = resources(tf, "okta_auth_server_policy_rule").find((r) => r.name === "agents");
    expect(agents?.grant_type_whitelist).toEqual(["client_credentials"]);
    expect(agents?.scope_whitelist).toEqual(["mcp:read", "mcp:write"]);
  });

  it("assigns the user app to the sign-in group that the user rule admits", () => {
    const assignment = single(tf, "okta_app_group_assignment");
    const users = resources(tf, "okta_auth_server_policy_rule").find((r) => r.name === "users");
    expect(assignment.group_id).toMatch(/^\$\{okta_group\..+\.id\}$/);
    expect(users?.group_whitelist).toEqual([assignment.group_id]);
  });

  it("uses private_key_jwt when the agent app has public keys", () => {
    const s = new TerraformStack(Testing.app({ outdir: testAppDir() }), "jwt");
    new OktaProvider(s, "okta", { orgName: "acme" });
    const okta = new OktaApps(s, "Okta", {
      name: "jwt",
      gatewayUri: "https://gw.example.com",
      userApp: { redirectUris: ["https://app.example.com/cb"] },
      agentApp: { publicJwks: [{ kid: "k1", n: "xGOr", e: "AQAB" }] },
    });
    new McpScopes(s, "Scopes", { authServer: okta });
    expect(okta.agentClientSecretEnv).toBeUndefined();
    const agent = resources(synthJson(s), "okta_app_oauth").find((a) => a.type === "service");
    expect(agent).toMatchObject({
      token_endpoint_auth_method: "private_key_jwt",
      jwks: [{ kid: "k1", kty: "RSA", n: "xGOr", e: "AQAB" }],
    });
    expect(agent?.omit_secret).toBeUndefined();
  });
});

describe("OktaApps refuses unsafe redirect URIs", () => {
  for (const [uri, why] of [
    ["https://*.example.com/callback", "wildcard"],
    ["http://copilot.example.com/callback", "https"],
    ["not a url", "absolute URL"],
  ] as const) {
    it(`refuses ${uri} where OktaApps is built, naming its construct path`, () => {
      expect(() => environmentStack("dev", (s) => ({ ...s, okta: { ...s.okta, redirectUris: [uri] } }))).toThrow(
        new RegExp(`^tollgate-dev/Platform/Okta: OktaApps\\.userApp\\.redirectUris: .*${why}`),
      );
    });
  }

  it("accepts an http redirect on a loopback host (native and CLI clients)", () => {
    const stack = environmentStack("dev", (s) => ({
      ...s,
      okta: { ...s.okta, redirectUris: ["http://127.0.0.1:8976/callback"] },
    }));
    expect(() => synthJson(stack)).not.toThrow();
  });
});
