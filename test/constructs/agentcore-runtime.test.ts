import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../stacks/environments.js";
import { AgentCoreMcpGateway } from "../../constructs/index.js";
import { smallPlatform } from "./fixtures.js";
import { environmentStack, resources, single, synthJson } from "./synth-helpers.js";

describe("AgentCoreRuntime", () => {
  // The copilot's runtime (Platform/Agent); the triage agent's has the same shape (test/constructs/agent.test.ts).
  const all = synthJson(environmentStack("prod"));
  const tf = {
    ...all,
    resource: Object.fromEntries(
      Object.entries(all.resource).map(([type, byName]) => [
        type,
        Object.fromEntries(Object.entries(byName).filter(([name]) => !name.includes("TriageAgent"))),
      ]),
    ),
  };
  const runtime = single(tf, "aws_bedrockagentcore_agent_runtime");
  const gatewayUrl = ENVIRONMENTS.prod.gatewayUrl;

  it("accepts only Okta tokens for the gateway audience from the platform's own clients", () => {
    const [authorizer] = runtime.authorizer_configuration as { custom_jwt_authorizer: Record<string, unknown>[] }[];
    const jwt = authorizer?.custom_jwt_authorizer[0];
    expect(jwt?.discovery_url).toMatch(
      /^\$\{join\("", \[okta_auth_server\.\w+\.issuer, "\/\.well-known\/openid-configuration"\]\)\}$/,
    );
    expect(jwt?.allowed_audience).toEqual([gatewayUrl]);
    expect(jwt?.allowed_clients).toEqual([
      expect.stringMatching(/^\$\{okta_app_oauth\.\w*UserApp\w*\.client_id\}$/),
      expect.stringMatching(/^\$\{okta_app_oauth\.\w*AgentApp\w*\.client_id\}$/),
      // the coding agent runs here
      expect.stringMatching(/^\$\{okta_app_oauth\.\w*CodingAgent_App\w*\.client_id\}$/),
    ]);
    // The caller's token reaches the agent's code, so the agent can act for the user at the gateway.
    expect(runtime.request_header_configuration).toEqual([{ request_header_allowlist: ["Authorization"] }]);
  });

  it("runs an image pinned by digest from an immutable repository scanned on push", () => {
    const repo = single(tf, "aws_ecr_repository");
    expect(repo).toMatchObject({
      image_tag_mutability: "IMMUTABLE",
      image_scanning_configuration: { scan_on_push: true },
    });
    const [artifact] = runtime.agent_runtime_artifact as { container_configuration: { container_uri: string }[] }[];
    expect(artifact?.container_configuration[0]?.container_uri).toMatch(
      /^\$\{aws_ecr_repository\.\w+\.repository_url\}@sha256:[0-9a-f]{64}$/,
    );
  });

  it("gives the agent only the gateway's URLs: no provider key, no model endpoint", () => {
    const env = runtime.environment_variables as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual([
      "TOLLGATE_LLM_ANTHROPIC_URL",
      "TOLLGATE_LLM_OPENAI_URL",
      "TOLLGATE_LLM_XAI_URL",
      "TOLLGATE_MCP_URL",
    ]);
    for (const value of Object.values(env)) expect(value.startsWith(`${gatewayUrl}/`)).toBe(true);
  });

  it("has an execution role that cannot invoke models and names every resource it touches but the ECR login", () => {
    const role = single(tf, "aws_iam_role");
    const trust = JSON.parse(String(role.assume_role_policy)) as { Statement: { Principal: { Service: string } }[] };
    expect(trust.Statement[0]?.Principal.Service).toBe("bedrock-agentcore.amazonaws.com");
    const policies = resources(tf, "aws_iam_role_policy").map(
      (p) => JSON.parse(String(p.policy)) as { Statement: { Action: string[]; Resource: string[] | string }[] },
    );
    expect(policies).toHaveLength(1);
    const statements = policies.flatMap((p) => p.Statement);
    const actions = statements.flatMap((s) => s.Action);
    expect(actions.some((a) => /^bedrock:/.test(a) || a === "*")).toBe(false);
    expect(actions).not.toContain("bedrock:InvokeModel");
    // "*" only where IAM offers nothing narrower: the ECR login token, which reads no image by itself.
    const wildcard = statements.filter(
      (s) => s.Resource === "*" || (Array.isArray(s.Resource) && s.Resource.includes("*")),
    );
    expect(wildcard.map((s) => s.Action)).toEqual([["ecr:GetAuthorizationToken"]]);
    const pull = statements.find((s) => s.Action.includes("ecr:BatchGetImage"));
    expect(pull?.Resource).toEqual([expect.stringMatching(/^\$\{aws_ecr_repository\.\w+\.arn\}$/)]);
    expect(resources(tf, "aws_iam_role_policy_attachment")).toHaveLength(0);
  });

  it("exposes a runtime endpoint", () => {
    expect(single(tf, "aws_bedrockagentcore_agent_runtime_endpoint").agent_runtime_id).toMatch(/agent_runtime_id\}$/);
  });

  it("refuses, at synth rather than at apply, a runtime name AgentCore would reject", () => {
    // the platform derives the runtime name from the environment: "dev-1" gives "devops_copilot_dev-1"
    expect(() => synthJson(environmentStack("dev", (s) => ({ ...s, environment: "dev-1" as "dev" })))).toThrow(
      /AgentCoreRuntime\.runtimeName: .*"devops_copilot_dev-1"/,
    );
  });
});

describe("AgentCoreMcpGateway: an AgentCore Gateway in front of Tollgate's MCP endpoint", () => {
  // AgentCore's OAuth2 credential provider can only send a client secret: the app opts into one.
  const platform = smallPlatform({ agentApp: { clientAuth: { method: "client_secret" } } });
  new AgentCoreMcpGateway(platform.stack, "McpGateway", {
    gatewayName: "small-agent",
    authServer: platform.okta,
    clients: platform.okta,
    gateway: platform.gateway,
    scopes: ["mcp:read", "mcp:write"],
  });
  const tf = synthJson(platform.stack);

  it("authenticates callers with the Okta custom JWT authorizer and targets only the Tollgate MCP URL", () => {
    const gateway = single(tf, "aws_bedrockagentcore_gateway");
    expect(gateway).toMatchObject({ protocol_type: "MCP", authorizer_type: "CUSTOM_JWT", name: "small-agent" });
    const [auth] = gateway.authorizer_configuration as { custom_jwt_authorizer: Record<string, unknown>[] }[];
    expect(auth?.custom_jwt_authorizer[0]?.allowed_audience).toEqual(["https://gw.acme.example"]);
    const target = single(tf, "aws_bedrockagentcore_gateway_target");
    expect(target.target_configuration).toEqual([
      { mcp: [{ mcp_server: [{ endpoint: "https://gw.acme.example/mcp" }] }] },
    ]);
    const [creds] = target.credential_provider_configuration as {
      oauth: { scopes: string[]; provider_arn: string }[];
    }[];
    expect(creds?.oauth[0]?.scopes).toEqual(["mcp:read", "mcp:write"]);
    expect(creds?.oauth[0]?.provider_arn).toMatch(
      /aws_bedrockagentcore_oauth2_credential_provider\.\w+\.credential_provider_arn/,
    );
  });

  it("takes the client secret through a write-only attribute from a sensitive variable, never a literal", () => {
    const provider = single(tf, "aws_bedrockagentcore_oauth2_credential_provider") as {
      oauth2_provider_config: { custom_oauth2_provider_config: Record<string, unknown>[] }[];
    };
    const config = provider.oauth2_provider_config[0]?.custom_oauth2_provider_config[0];
    expect(config?.client_secret_wo).toBe("${var.small_agent_client_secret}");
    expect(config?.client_secret).toBeUndefined();
    expect(tf.variable?.small_agent_client_secret).toMatchObject({ sensitive: true });
  });

  it("gives the gateway role only its own token and secret, no model access and no '*'", () => {
    const policies = resources(tf, "aws_iam_role_policy")
      .filter((p) => String(p.role).startsWith("${aws_iam_role.McpGateway_"))
      .map((p) => JSON.parse(String(p.policy)) as { Statement: { Action: string[]; Resource: string[] | string }[] });
    expect(policies).toHaveLength(1);
    const statements = policies.flatMap((p) => p.Statement);
    expect(statements.flatMap((s) => s.Action).filter((a) => a.startsWith("bedrock:"))).toEqual([]);
    for (const resource of statements.flatMap((s) => s.Resource)) expect(resource).not.toBe("*");
  });
});

describe("AgentCoreRuntime workload identity", () => {
  it.each(["Platform_Agent_", "Platform_TriageAgent_"])(
    "mints workload tokens only from verified JWTs, never for a caller-supplied user id (%s)",
    (prefix) => {
      const tf = synthJson(environmentStack("prod"));
      const [policyText] = Object.entries(tf.resource.aws_iam_role_policy ?? {})
        .filter(([name]) => name.startsWith(prefix))
        .map(([, p]) => p.policy);
      const policy = JSON.parse(String(policyText)) as {
        Statement: { Effect: string; Action: string[] }[];
      };
      const allowed = policy.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => s.Action);
      const denied = policy.Statement.filter((s) => s.Effect === "Deny").flatMap((s) => s.Action);
      expect(allowed).toContain("bedrock-agentcore:GetWorkloadAccessTokenForJWT");
      expect(allowed).not.toContain("bedrock-agentcore:GetWorkloadAccessTokenForUserId");
      expect(denied).toEqual(["bedrock-agentcore:GetWorkloadAccessTokenForUserId"]);
    },
  );
});
