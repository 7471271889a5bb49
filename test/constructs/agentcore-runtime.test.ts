import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../stacks/environments";
import { environmentStack, resources, single, synthJson } from "./synth-helpers";

describe("AgentCoreRuntime", () => {
  const tf = synthJson(environmentStack("prod"));
  const runtime = single(tf, "aws_bedrockagentcore_agent_runtime");
  const gatewayUrl = ENVIRONMENTS.prod.gatewayUrl;

  it("accepts only Okta tokens for the gateway audience from the platform's own clients", () => {
    const [authorizer] = runtime.authorizer_configuration as { custom_jwt_authorizer: Record<string, unknown>[] }[];
    const jwt = authorizer?.custom_jwt_authorizer[0];
    expect(jwt?.discovery_url).toMatch(/^\$\{join\("", \[okta_auth_server\.\w+\.issuer, "\/\.well-known\/openid-configuration"\]\)\}$/);
    expect(jwt?.allowed_audience).toEqual([gatewayUrl]);
    expect(jwt?.allowed_clients).toEqual([
      expect.stringMatching(/^\$\{okta_app_oauth\.\w*UserApp\w*\.client_id\}$/),
      expect.stringMatching(/^\$\{okta_app_oauth\.\w*AgentApp\w*\.client_id\}$/),
    ]);
  });

  it("runs an image pinned by digest from an immutable repository scanned on push", () => {
    const repo = single(tf, "aws_ecr_repository");
    expect(repo).toMatchObject({ image_tag_mutability: "IMMUTABLE", image_scanning_configuration: { scan_on_push: true } });
    const [artifact] = runtime.agent_runtime_artifact as { container_configuration: { container_uri: string }[] }[];
    expect(artifact?.container_configuration[0]?.container_uri).toMatch(/^\$\{aws_ecr_repository\.\w+\.repository_url\}@sha256:[0-9a-f]{64}$/);
  });

  it("gives the agent only the gateway's URLs: no provider key, no model endpoint", () => {
    const env = runtime.environment_variables as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual(["TOLLGATE_LLM_ANTHROPIC_URL", "TOLLGATE_LLM_OPENAI_URL", "TOLLGATE_LLM_XAI_URL", "TOLLGATE_MCP_URL"]);
    for (const value of Object.values(env)) expect(value.startsWith(`${gatewayUrl}/`)).toBe(true);
  });

  it("has an execution role that cannot invoke models and names every resource it touches", () => {
    const role = single(tf, "aws_iam_role");
    const trust = JSON.parse(String(role.assume_role_policy)) as { Statement: { Principal: { Service: string } }[] };
    expect(trust.Statement[0]?.Principal.Service).toBe("bedrock-agentcore.amazonaws.com");
    const policies = resources(tf, "aws_iam_role_policy").map((p) => JSON.parse(String(p.policy)) as { Statement: { Action: string[]; Resource: string[] }[] });
    expect(policies).toHaveLength(1);
    const statements = policies.flatMap((p) => p.Statement);
    const actions = statements.flatMap((s) => s.Action);
    expect(actions.some((a) => /^bedrock:/.test(a) || a === "*")).toBe(false);
    expect(actions).not.toContain("bedrock:InvokeModel");
    for (const resource of statements.flatMap((s) => s.Resource)) expect(resource).not.toBe("*");
    expect(resources(tf, "aws_iam_role_policy_attachment")).toHaveLength(0);
  });

  it("exposes a runtime endpoint", () => {
    expect(single(tf, "aws_bedrockagentcore_agent_runtime_endpoint").agent_runtime_id).toMatch(/agent_runtime_id\}$/);
  });

  it("refuses, at synth rather than at apply, a runtime name AgentCore would reject", () => {
    // the platform derives the runtime name from the environment: "dev-1" gives "devops_copilot_dev-1"
    expect(() => synthJson(environmentStack("dev", (s) => ({ ...s, environment: "dev-1" as "dev" })))).toThrow(/AgentCoreRuntime\.runtimeName: .*"devops_copilot_dev-1"/);
  });
});
