import { describe, expect, it } from "vitest";
import { Agent, type AgentProps, OktaApps, TollgateChecks } from "../../constructs/index.js";
import { validateSynthBundle } from "../../policies/bundle/index.js";
import { DIGEST, smallPlatform } from "./fixtures.js";
import { checkErrors, environmentStack, resources, synthJson, type TfJson } from "./synth-helpers.js";

const rule = (errors: string[], id: string) => errors.filter((e) => e.startsWith(`[${id}]`));

/** The resource of `type` whose Terraform address contains `part`. */
function named(tf: TfJson, type: string, part: string): Record<string, unknown> {
  const found = Object.entries(tf.resource[type] ?? {}).filter(([name]) => name.includes(part));
  if (found.length !== 1) throw new Error(`expected one ${type} named *${part}*, found ${found.length}`);
  return found[0]![1];
}

const ref = (type: string, part: string, attribute: string) =>
  expect.stringMatching(new RegExp(`^\\$\\{${type}\\.\\w*${part}\\w*\\.${attribute}\\}$`));

function jwtAuthorizer(runtime: Record<string, unknown>) {
  const [config] = runtime.authorizer_configuration as { custom_jwt_authorizer: Record<string, unknown>[] }[];
  return config!.custom_jwt_authorizer[0]!;
}

/** A small platform with one more agent, built by `props` (the platform's own pieces passed in). */
function platformWithAgent(
  props: (p: ReturnType<typeof smallPlatform>) => Partial<AgentProps<"mcp:read" | "mcp:write" | "mcp:admin">>,
) {
  const platform = smallPlatform();
  const agent = new Agent(platform.stack, "ReaderAgent", {
    agentId: "reader",
    authServer: platform.okta,
    clients: platform.okta,
    gateway: platform.gateway,
    scopeSet: platform.scopes as never,
    scopes: ["mcp:read"],
    runtime: { runtimeName: "small_reader", imageDigest: DIGEST },
    ...props(platform),
  });
  return { ...platform, reader: agent };
}

describe("the default environment's agents", () => {
  const stack = environmentStack("dev");
  const tf = synthJson(stack);
  const bundle = stack.platform.bundle.bundle();

  it("runs two agents, triage and coding, each with its own Okta service app (private_key_jwt, no secret)", () => {
    for (const [id, construct] of [
      ["triage", "TriageAgent"],
      ["coding", "CodingAgent"],
    ] as const) {
      const app = named(tf, "okta_app_oauth", `${construct}_App`);
      expect(app).toMatchObject({
        label: `tollgate-dev (agent ${id})`,
        type: "service",
        grant_types: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        token_endpoint_auth_method: "private_key_jwt",
      });
      expect(app).not.toHaveProperty("omit_secret");
      // The public keys come from a plan-time variable of their own: the private key is never in Terraform.
      expect(JSON.stringify(app)).toContain(`var.tollgate_dev_agent_${id}_public_jwks`);
      expect(tf.variable?.[`tollgate_dev_agent_${id}_public_jwks`]).toMatchObject({ type: "string", nullable: false });
      expect(tf.variable?.[`tollgate_dev_agent_${id}_public_jwks`]).not.toHaveProperty("sensitive");
    }
  });

  it("lets each app request only its own scopes: triage reads, coding also writes", () => {
    const scopesOf = (construct: string, rule: string) =>
      named(tf, "okta_auth_server_policy_rule", `${construct}_${rule}`).scope_whitelist;
    expect(scopesOf("TriageAgent", "ClientCredentialsRule")).toEqual(["mcp:read"]);
    expect(scopesOf("TriageAgent", "TokenExchangeRule")).toEqual(["mcp:read"]);
    expect(scopesOf("CodingAgent", "ClientCredentialsRule")).toEqual(["mcp:read", "mcp:write"]);
    expect(scopesOf("CodingAgent", "TokenExchangeRule")).toEqual(["mcp:read", "mcp:write"]);
    const policies = resources(tf, "okta_auth_server_policy");
    expect(policies.map((p) => p.priority).sort()).toEqual([1, 2, 3]);
    expect(named(tf, "okta_auth_server_policy", "TriageAgent").client_whitelist).toEqual([
      ref("okta_app_oauth", "TriageAgent_App", "client_id"),
    ]);
  });

  it("gives each agent a runtime whose authorizer accepts the users and the agent, and that passes Authorization", () => {
    const triage = named(tf, "aws_bedrockagentcore_agent_runtime", "TriageAgent");
    expect(triage.agent_runtime_name).toBe("devops_triage_dev");
    expect(jwtAuthorizer(triage).allowed_clients).toEqual([
      ref("okta_app_oauth", "Okta_UserApp", "client_id"),
      ref("okta_app_oauth", "TriageAgent_App", "client_id"),
    ]);
    // The coding agent keeps the copilot's runtime (no replace); it now also accepts the coding agent's app.
    const coding = named(tf, "aws_bedrockagentcore_agent_runtime", "Platform_Agent_Runtime");
    expect(jwtAuthorizer(coding).allowed_clients).toEqual([
      ref("okta_app_oauth", "Okta_UserApp", "client_id"),
      ref("okta_app_oauth", "Okta_AgentApp", "client_id"),
      ref("okta_app_oauth", "CodingAgent_App", "client_id"),
    ]);
    for (const runtime of [triage, coding])
      expect(runtime.request_header_configuration).toEqual([{ request_header_allowlist: ["Authorization"] }]);
  });

  it("lists both agents in the bundle with their scopes, and accepts their clients' tokens", () => {
    expect(bundle.agents).toEqual([
      { id: "triage", clientId: "{{apply:okta.clients.agent-triage.id}}", scopes: ["mcp:read"] },
      { id: "coding", clientId: "{{apply:okta.clients.agent-coding.id}}", scopes: ["mcp:read", "mcp:write"] },
    ]);
    expect(bundle.auth.allowedClients).toEqual(
      expect.arrayContaining(["{{apply:okta.clients.agent-triage.id}}", "{{apply:okta.clients.agent-coding.id}}"]),
    );
    expect(validateSynthBundle(bundle).ok).toBe(true);
    // Terraform renders the real client ids into values.json at apply.
    expect(Object.keys(stack.platform.bundle.applyTimeValues())).toEqual(
      expect.arrayContaining(["okta.clients.agent-triage.id", "okta.clients.agent-coding.id"]),
    );
  });
});

describe("Agent", () => {
  it("never hands a privileged scope to client credentials, but may exercise it for a user who consented", () => {
    const { stack } = platformWithAgent(() => ({ scopes: ["mcp:read", "mcp:admin"] }));
    const tf = synthJson(stack);
    expect(named(tf, "okta_auth_server_policy_rule", "ReaderAgent_ClientCredentialsRule").scope_whitelist).toEqual([
      "mcp:read",
    ]);
    expect(named(tf, "okta_auth_server_policy_rule", "ReaderAgent_TokenExchangeRule").scope_whitelist).toEqual([
      "mcp:read",
      "mcp:admin",
    ]);
  });

  it("has no client-credentials rule when every scope is privileged, and no exchange rule without tokenExchange", () => {
    const onlyAdmin = synthJson(platformWithAgent(() => ({ scopes: ["mcp:admin"] })).stack);
    expect(
      Object.keys(onlyAdmin.resource.okta_auth_server_policy_rule ?? {}).filter((n) => n.includes("Reader")),
    ).toEqual([expect.stringContaining("ReaderAgent_TokenExchangeRule")]);
    const noExchange = synthJson(platformWithAgent(() => ({ tokenExchange: false })).stack);
    expect(named(noExchange, "okta_app_oauth", "ReaderAgent_App").grant_types).toEqual(["client_credentials"]);
    expect(
      Object.keys(noExchange.resource.okta_auth_server_policy_rule ?? {}).some((n) => n.includes("TokenExchange")),
    ).toBe(false);
  });

  it("registers literal public keys on its app when given, and then creates no variable", () => {
    const key = { kid: "k1", n: "AQAB-modulus", e: "AQAB" };
    const tf = synthJson(platformWithAgent(() => ({ publicJwks: [key] })).stack);
    expect(named(tf, "okta_app_oauth", "ReaderAgent_App").jwks).toEqual([{ kty: "RSA", ...key }]);
    expect(Object.keys(tf.variable ?? {}).some((v) => v.includes("reader"))).toBe(false);
  });

  it("adopts an existing runtime: its authorizer then also accepts the agent's app", () => {
    const { stack } = platformWithAgent((p) => ({ runtime: { existing: p.agent } }));
    const tf = synthJson(stack);
    expect(resources(tf, "aws_bedrockagentcore_agent_runtime")).toHaveLength(1);
    expect(jwtAuthorizer(resources(tf, "aws_bedrockagentcore_agent_runtime")[0]!).allowed_clients).toEqual([
      ref("okta_app_oauth", "Okta_UserApp", "client_id"),
      ref("okta_app_oauth", "Okta_AgentApp", "client_id"),
      ref("okta_app_oauth", "ReaderAgent_App", "client_id"),
    ]);
  });

  it("adds a policy to an authorization server it did not create only at the priority the app chooses", () => {
    const server = (p: ReturnType<typeof smallPlatform>) =>
      OktaApps.fromAuthServerId(p.stack, "TeamServer", {
        authServerId: "aus1team",
        issuer: "https://acme.okta.com/oauth2/aus1team",
        audience: "https://gw.acme.example",
      });
    expect(() => platformWithAgent((p) => ({ authServer: server(p) }))).toThrow(
      /Agent\.accessPolicyPriority: the authorization server already exists/,
    );
    const tf = synthJson(platformWithAgent((p) => ({ authServer: server(p), accessPolicyPriority: 7 })).stack);
    expect(named(tf, "okta_auth_server_policy", "ReaderAgent_Policy")).toMatchObject({
      auth_server_id: "aus1team",
      priority: 7,
    });
  });

  it("refuses props Okta or AgentCore would refuse, naming the prop", () => {
    expect(() => platformWithAgent(() => ({ agentId: "Reader_1" }))).toThrow(/Agent\.agentId: expected a lower-case/);
    expect(() => platformWithAgent(() => ({ scopes: [] }))).toThrow(/Agent\.scopes: an agent needs at least one scope/);
    expect(() =>
      platformWithAgent(() => ({ publicJwks: [{ kid: "k", n: "n", e: "AQAB", d: "private" } as never] })),
    ).toThrow(/Agent\.publicJwks: key "k" holds a private key/);
    expect(() =>
      platformWithAgent(() => ({
        runtime: {
          runtimeName: "small_reader",
          imageDigest: DIGEST,
          requestHeaderAllowlist: ["Authorization", "X-Amz-Date"],
        },
      })),
    ).toThrow(/requestHeaderAllowlist: "X-Amz-Date" is reserved by AWS/);
    expect(() =>
      platformWithAgent(() => ({
        runtime: {
          runtimeName: "small_reader",
          imageDigest: DIGEST,
          requestHeaderAllowlist: ["Authorization", "Host"],
        },
      })),
    ).toThrow(/"Host" is one of AgentCore's restricted headers/);
  });
});

describe("agent checks", () => {
  it("TG-AGENT-001: a scope the agent's scope set does not hold fails synth", () => {
    const errors = checkErrors(platformWithAgent(() => ({ scopes: ["mcp:read", "mcp:deploy" as never] })).stack);
    expect(rule(errors, "TG-AGENT-001")).toEqual([
      expect.stringContaining(`agent "reader" lists scope "mcp:deploy", which its scope set does not hold`),
    ]);
  });

  it("TG-AGENT-002: two agents of one gateway with the same id fail synth", () => {
    const platform = platformWithAgent(() => ({}));
    // Through the deployment's bundle itself: the same gateway.
    new Agent(platform.stack, "AnotherReader", {
      agentId: "reader",
      authServer: platform.okta,
      clients: platform.okta,
      gateway: platform.bundle,
      scopeSet: platform.scopes,
      scopes: ["mcp:read"],
      runtime: { existing: platform.agent },
    });
    expect(rule(checkErrors(platform.stack), "TG-AGENT-002")).toEqual([
      expect.stringContaining(`agent "reader" is also small/ReaderAgent`),
    ]);
  });

  it("TG-AGENT-003: an agent runtime that does not pass Authorization fails, unless suppressed with a reason", () => {
    const build = () =>
      platformWithAgent(() => ({
        runtime: {
          runtimeName: "small_reader",
          imageDigest: DIGEST,
          requestHeaderAllowlist: ["X-Amzn-Bedrock-AgentCore-Runtime-Custom-Trace"],
        },
      }));
    expect(rule(checkErrors(build().stack), "TG-AGENT-003")).toEqual([
      expect.stringContaining(
        `agent "reader": runtime small_reader passes X-Amzn-Bedrock-AgentCore-Runtime-Custom-Trace`,
      ),
    ]);
    // A change behind the construct's back (the L1 escape hatch) is caught too.
    const patched = platformWithAgent(() => ({}));
    patched.reader.runtime.runtime.putRequestHeaderConfiguration([{ requestHeaderAllowlist: [] }]);
    expect(rule(checkErrors(patched.stack), "TG-AGENT-003")).toHaveLength(1);
    const suppressed = build();
    TollgateChecks.suppress(suppressed.reader, "TG-AGENT-003", "a scheduled agent: nobody calls it with a token");
    expect(rule(checkErrors(suppressed.stack), "TG-AGENT-003")).toEqual([]);
  });

  it("stay quiet on the default environment", () => {
    expect(checkErrors(environmentStack("prod"))).toEqual([]);
  });
});
