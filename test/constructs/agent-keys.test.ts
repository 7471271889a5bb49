/**
 * The agent app's client authentication: private_key_jwt by default (one apply, no secret anywhere), a client
 * secret only on request. The public keys reach Okta through a non-sensitive variable checked at plan by the real
 * Terraform CLI; the private key reaches the gateway only through its ephemeral, write-only Secret.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { TerraformStack, Testing } from "cdktf";
import { type JWK, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentCoreMcpGateway, type AgentAppProps, GatewayRoute, McpScopes, OktaApps } from "../../constructs/index.js";
import { type EnvironmentName } from "../../stacks/environments.js";
import { smallPlatform } from "./fixtures.js";
import { type TfJson, environmentStack, synthJson, testAppDir } from "./synth-helpers.js";

let publicJwk: JWK;
let privateJwk: JWK;
beforeAll(async () => {
  const pair = await generateKeyPair("RS256", { extractable: true });
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "agent-1", alg: "RS256", use: "sig" };
  privateJwk = { ...(await exportJWK(pair.privateKey)), kid: "agent-1", alg: "RS256", use: "sig" };
});

function oktaStack(
  agentApp: AgentAppProps | undefined,
  extra: Partial<ConstructorParameters<typeof OktaApps>[2]> = {},
) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "keys");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const okta = new OktaApps(stack, "Okta", {
    name: "keys",
    gatewayUri: "https://gw.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
    ...(agentApp ? { agentApp } : {}),
    ...(extra as object),
  });
  new McpScopes(stack, "Scopes", { authServer: okta });
  return { stack, okta };
}

/** OktaApps' agent app (the gateway's client), not an `Agent`'s own app. */
const agentAppOf = (tf: TfJson) =>
  Object.entries(tf.resource.okta_app_oauth ?? {}).find(([name]) => name.includes("Okta_AgentApp"))?.[1];

describe.each<EnvironmentName>(["dev", "prod"])("the %s environment's agent app", (name) => {
  const stack = environmentStack(name);
  const tf = synthJson(stack);
  const text = JSON.stringify(tf);
  const bundleText = stack.platform.bundle.bundleText();
  const variableName = `tollgate_${name}_agent_public_jwks`;

  it("is private_key_jwt with the public keys of a plan-time variable: no client secret, no secret variable", () => {
    const app = agentAppOf(tf) as { token_endpoint_auth_method: string; dynamic: { jwks: Record<string, unknown> } };
    expect(app.token_endpoint_auth_method).toBe("private_key_jwt");
    expect(app.dynamic.jwks.for_each).toContain(`jsondecode(var.${variableName})`);
    expect(app.dynamic.jwks.content).toMatchObject({ kid: "${jwks.value.kid}", kty: "${jwks.value.kty}" });
    expect(Object.keys(tf.variable ?? {}).filter((v) => /secret/.test(v))).toEqual([]);
    expect(text).not.toMatch(/omit_secret|client_secret|OKTA_AGENT_CLIENT_SECRET/);
    // Public keys are no secret: a plain variable, shown in the plan for review.
    expect(tf.variable?.[variableName]).toMatchObject({ type: "string", nullable: false });
    expect(tf.variable?.[variableName]?.sensitive).toBeUndefined();
  });

  it("gives the gateway its private key only through an ephemeral variable and the Secret's write-only data", () => {
    expect(tf.variable?.gateway_okta_agent_private_key).toMatchObject({ sensitive: true, ephemeral: true });
    const secret = Object.values(tf.resource.kubernetes_secret_v1 ?? {})[0] as { data_wo: Record<string, string> };
    expect(secret.data_wo.OKTA_AGENT_PRIVATE_KEY).toBe("${var.gateway_okta_agent_private_key}");
    const slack = stack.platform.bundle.bundle().mcp?.upstreams?.find((u) => u.id === "slack");
    expect(slack?.credentials).toMatchObject({
      mode: "token-exchange",
      privateKeyJwt: { privateKey: { env: "OKTA_AGENT_PRIVATE_KEY" } },
    });
    expect(slack?.credentials).not.toHaveProperty("clientSecret");
  });

  it("holds no private key in cdk.tf.json or the bundle", () => {
    for (const content of [text, bundleText]) {
      expect(content).not.toMatch(/PRIVATE KEY|"d"\s*:/);
      expect(content).not.toMatch(/"kty"\s*:\s*"(RSA|EC)"/);
    }
  });
});

describe("literal public keys", () => {
  it("registers RSA and EC public keys as jwks blocks and never accepts a private key in their place", () => {
    const { stack } = oktaStack({
      clientAuth: {
        method: "private_key_jwt",
        publicJwks: [
          { kid: "rsa-1", n: String(publicJwk.n), e: String(publicJwk.e) },
          { kty: "EC", kid: "ec-1", x: "x-coordinate", y: "y-coordinate" },
        ],
      },
    });
    const tf = synthJson(stack);
    expect(agentAppOf(tf)).toMatchObject({
      token_endpoint_auth_method: "private_key_jwt",
      jwks: [
        { kty: "RSA", kid: "rsa-1", n: publicJwk.n, e: publicJwk.e },
        { kty: "EC", kid: "ec-1", x: "x-coordinate", y: "y-coordinate" },
      ],
    });
    expect(tf.variable).toBeUndefined();
    expect(JSON.stringify(tf)).not.toContain(String(privateJwk.d));

    expect(() =>
      oktaStack({
        clientAuth: { method: "private_key_jwt", publicJwks: [privateJwk as never] },
      }),
    ).toThrow(/OktaApps\.agentApp\.clientAuth\.publicJwks: key "agent-1" holds a private key \("d"\)/);
  });
});

const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" }).status === 0;

describe.skipIf(!terraform)("the public-key variable, checked by terraform plan", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tollgate-jwks-plan-"));
    const tf = synthJson(oktaStack(undefined).stack);
    const variable = tf.variable?.keys_agent_public_jwks;
    const app = agentAppOf(tf) as { dynamic: { jwks: { for_each: string } } };
    // The variable as synthesized, and the agent app's for_each as an output: what Okta would receive.
    writeFileSync(
      join(dir, "main.tf.json"),
      JSON.stringify({
        variable: { keys_agent_public_jwks: variable },
        output: {
          kids: { value: app.dynamic.jwks.for_each.replace(/^\$\{(.*)\}$/, "$${[for k in $1 : k.kid]}") },
        },
      }),
    );
    expect(spawnSync("terraform", ["init", "-input=false"], { cwd: dir }).status).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const plan = (value: string) =>
    spawnSync("terraform", ["plan", "-input=false", "-no-color", "-var", `keys_agent_public_jwks=${value}`], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, TF_IN_AUTOMATION: "1" },
    });

  it("takes the public JWK tollgate keygen prints, or a JWKS of two keys while one is rotated", () => {
    const one = plan(JSON.stringify(publicJwk));
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/kids\s+=\s+\[\s+\+ "agent-1",?\s+\]/);
    const two = plan(JSON.stringify({ keys: [publicJwk, { ...publicJwk, kid: "agent-2" }] }));
    expect(two.status, two.stderr).toBe(0);
    expect(two.stdout).toContain('"agent-2"');
  });

  it("refuses the private key, a key without kid, a symmetric key and text that is not JSON", () => {
    const { kid: _kid, ...withoutKid } = publicJwk;
    for (const value of [
      JSON.stringify(privateJwk),
      JSON.stringify(withoutKid),
      JSON.stringify({ kty: "oct", kid: "k", k: "c2VjcmV0" }),
      "-----BEGIN PUBLIC KEY-----",
    ]) {
      const refused = plan(value);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain("keys_agent_public_jwks: expected the agent app's public key as JSON");
    }
  });
});

describe("a client secret, only on request", () => {
  it("keeps an existing secret-based app on client_secret_basic, the secret never in state", () => {
    const { stack, okta } = oktaStack({ clientAuth: { method: "client_secret" } });
    const route = GatewayRoute.mcp(stack, "Slack", {
      upstreamId: "slack",
      url: "https://slack.acme.example/mcp",
      credentials: { mode: "token-exchange", authServer: okta, clients: okta, audience: "api://slack" },
    });
    const tf = synthJson(stack);
    expect(agentAppOf(tf)).toMatchObject({ token_endpoint_auth_method: "client_secret_basic", omit_secret: true });
    expect(tf.variable).toBeUndefined();
    expect(okta.agentClientAuth).toEqual({ method: "client_secret", secretEnv: "OKTA_AGENT_CLIENT_SECRET" });
    expect(route.secretEnvNames).toEqual(["OKTA_AGENT_CLIENT_SECRET"]);
    expect(route.toMcpUpstream((_n, v) => v)?.credentials).toMatchObject({
      clientSecret: { env: "OKTA_AGENT_CLIENT_SECRET" },
    });
  });

  it("still reads the deprecated agentClientSecretEnv as that request", () => {
    const { okta } = oktaStack(undefined, { agentClientSecretEnv: "AGENT_SECRET" });
    expect(okta.agentClientAuth).toEqual({ method: "client_secret", secretEnv: "AGENT_SECRET" });
  });

  it("refuses contradictory choices, naming the prop", () => {
    expect(() =>
      oktaStack({ clientAuth: { method: "private_key_jwt" } }, { agentClientSecretEnv: "AGENT_SECRET" }),
    ).toThrow(/OktaApps\.agentClientSecretEnv: the agent app uses private_key_jwt/);
    expect(() =>
      oktaStack({ clientAuth: { method: "client_secret" }, publicJwks: [{ kid: "k", n: "n", e: "AQAB" }] }),
    ).toThrow(/OktaApps\.agentApp\.publicJwks: set clientAuth\.publicJwks instead/);
    expect(() => oktaStack({ clientAuth: { method: "private_key_jwt", privateKeyEnv: "agent key" } })).toThrow(
      /OktaApps\.agentApp\.clientAuth\.privateKeyEnv: expected an environment variable name/,
    );
  });

  it("AgentCoreMcpGateway needs it, and says so: AgentCore's credential provider cannot sign assertions", () => {
    const platform = smallPlatform();
    new AgentCoreMcpGateway(platform.stack, "McpGateway", {
      gatewayName: "small-agent",
      authServer: platform.okta,
      clients: platform.okta,
      gateway: platform.gateway,
    });
    expect(() => synthJson(platform.stack)).toThrow(
      /AgentCoreMcpGateway\.clients: AgentCore's credential provider can only send a client secret.*clientAuth: \{ method: "client_secret" \}/,
    );
  });
});

describe("imported agent apps and client credentials", () => {
  it("an imported app signs with the private key it is given, and takes one method only", () => {
    const { stack, okta } = oktaStack(undefined);
    const clients = OktaApps.fromClientIds(stack, "Team", {
      userClientId: "0oa1user",
      agentClientId: "0oa1agent",
      agentPrivateKeyEnv: "TEAM_AGENT_KEY",
    });
    const route = GatewayRoute.mcp(stack, "Docs", {
      upstreamId: "docs",
      url: "https://docs.acme.example/mcp",
      credentials: { mode: "client-credentials", authServer: okta, clients, scopes: ["docs:read"] },
    });
    expect(route.secretEnvNames).toEqual(["TEAM_AGENT_KEY"]);
    expect(route.toMcpUpstream((_n, v) => v)?.credentials).toEqual({
      mode: "client-credentials",
      tokenUrl: okta.tokenUrl,
      clientId: "0oa1agent",
      privateKeyJwt: { privateKey: { env: "TEAM_AGENT_KEY" } },
      scopes: ["docs:read"],
    });
    expect(() =>
      OktaApps.fromClientIds(stack, "Both", {
        userClientId: "0oa1user",
        agentClientId: "0oa1agent",
        agentPrivateKeyEnv: "KEY",
        agentClientSecretEnv: "SECRET",
      }),
    ).toThrow(/OktaApps\.fromClientIds: set agentPrivateKeyEnv or agentClientSecretEnv, not both/);
  });

  it("refuses client credentials for an imported app the gateway holds no credential for", () => {
    const { stack, okta } = oktaStack(undefined);
    const clients = OktaApps.fromClientIds(stack, "Team", { userClientId: "0oa1user", agentClientId: "0oa1agent" });
    expect(() =>
      GatewayRoute.mcp(stack, "Docs", {
        upstreamId: "docs",
        url: "https://docs.acme.example/mcp",
        credentials: { mode: "client-credentials", authServer: okta, clients },
      }),
    ).toThrow(/GatewayRoute\.mcp credentials: client credentials need the agent app's credential/);
  });
});
