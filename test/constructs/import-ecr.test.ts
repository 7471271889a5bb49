/** An agent image from a team's existing ECR repository: no repository is created, the role reads only that one. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import {
  AgentCoreRuntime,
  type AgentCoreRuntimeProps,
  type IGatewayEndpoint,
  OktaApps,
} from "../../constructs/index.js";
import { ImportedEcrRepository } from "../../constructs/imported-ecr.js";
import type { IContainerRepository } from "../../constructs/refs.js";
import { resources, single, synthJson, testAppDir, type TfJson } from "./synth-helpers.js";

const DIGEST = `sha256:${"cd".repeat(32)}`;

/** Where the agent reaches the gateway; the runtime reads only these URLs. */
class GatewayUrls extends Construct implements IGatewayEndpoint {
  public readonly environment = "prod";
  public readonly publicUrl = "https://agents.acme.example";
  public readonly mcpUrl = "https://agents.acme.example/mcp";
  public readonly llmUrls = {};
}

function runtimeStack(repository: (stack: TerraformStack) => IContainerRepository) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "team");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const server = OktaApps.fromAuthServerId(stack, "Server", {
    authServerId: "aus1acme",
    name: "acme",
    audience: "https://agents.acme.example",
  });
  const clients = OktaApps.fromClientIds(stack, "Apps", { userClientId: "0oa1user", agentClientId: "0oa1agent" });
  const props: AgentCoreRuntimeProps = {
    runtimeName: "team_agent",
    authServer: server,
    clients,
    gateway: new GatewayUrls(stack, "Gateway"),
    imageDigest: DIGEST,
    repository: repository(stack),
  };
  new AgentCoreRuntime(stack, "Agent", props);
  return synthJson(stack);
}

type DataJson = Record<string, Record<string, Record<string, unknown>>>;
const dataOf = (tf: TfJson) => (tf as TfJson & { data?: DataJson }).data ?? {};

function pullResources(tf: TfJson): unknown {
  const policy = JSON.parse(String(single(tf, "aws_iam_role_policy").policy)) as {
    Statement: { Action: string[]; Resource: string[] | string }[];
  };
  return policy.Statement.find((s) => s.Action.includes("ecr:BatchGetImage"))?.Resource;
}

const containerUri = (tf: TfJson) =>
  (
    single(tf, "aws_bedrockagentcore_agent_runtime").agent_runtime_artifact as {
      container_configuration: { container_uri: string }[];
    }[]
  )[0]?.container_configuration[0]?.container_uri;

describe("AgentCoreRuntime on an existing ECR repository", () => {
  it("by name: creates no repository, reads it at plan and pulls only from it, pinned by digest", () => {
    const tf = runtimeStack((s) => ImportedEcrRepository.fromRepositoryName(s, "Images", "team/agent"));
    expect(resources(tf, "aws_ecr_repository")).toEqual([]);
    const [lookupId, lookup] = Object.entries(dataOf(tf).aws_ecr_repository ?? {})[0] ?? [];
    expect(lookup).toEqual({ name: "team/agent" });
    expect(pullResources(tf)).toEqual([`\${data.aws_ecr_repository.${lookupId}.arn}`]);
    expect(containerUri(tf)).toBe(`\${data.aws_ecr_repository.${lookupId}.repository_url}@${DIGEST}`);
    // an imported Okta server and imported apps: nothing in Okta either
    expect(Object.keys(tf.resource).filter((t) => t.startsWith("okta_"))).toEqual([]);
  });

  it("by ARN, in another account: the role's pull is limited to exactly that ARN", () => {
    const arn = "arn:aws:ecr:eu-west-1:210987654321:repository/shared/agent";
    const tf = runtimeStack((s) => ImportedEcrRepository.fromRepositoryArn(s, "Images", arn));
    expect(resources(tf, "aws_ecr_repository")).toEqual([]);
    expect(Object.values(dataOf(tf).aws_ecr_repository ?? {})).toEqual([
      { name: "shared/agent", registry_id: "210987654321" },
    ]);
    expect(pullResources(tf)).toEqual([arn]);
  });

  it("refuses a malformed ARN where the import is made", () => {
    expect(() =>
      runtimeStack((s) => ImportedEcrRepository.fromRepositoryArn(s, "Images", "arn:aws:s3:::agent-images")),
    ).toThrow(
      /^team\/Images: ImportedEcrRepository\.fromRepositoryArn: expected arn:aws:ecr:<region>:<account>:repository\/<name>, got "arn:aws:s3:::agent-images"/,
    );
  });

  it("refuses a repository name ECR would refuse", () => {
    expect(() => runtimeStack((s) => ImportedEcrRepository.fromRepositoryName(s, "Images", "Team/Agent"))).toThrow(
      /^team\/Images: ImportedEcrRepository\.fromRepositoryName: "Team\/Agent" is not an ECR repository name/,
    );
  });

  it("takes an existing repository or a name for a new one, not both", () => {
    const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "both");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    const server = OktaApps.fromAuthServerId(stack, "Server", {
      authServerId: "aus1acme",
      issuer: "https://acme.okta.com/oauth2/aus1acme",
      audience: "https://agents.acme.example",
    });
    const clients = OktaApps.fromClientIds(stack, "Apps", { userClientId: "0oa1user", agentClientId: "0oa1agent" });
    expect(
      () =>
        // @ts-expect-error repositoryName names a repository the runtime would create, repository an existing one
        new AgentCoreRuntime(stack, "Agent", {
          runtimeName: "team_agent",
          authServer: server,
          clients,
          gateway: new GatewayUrls(stack, "Gateway"),
          repository: ImportedEcrRepository.fromRepositoryName(stack, "Images", "team/agent"),
          repositoryName: "team-agent",
        }),
    ).toThrow(
      /^both\/Agent: AgentCoreRuntime: set repository \(an existing one\) or repositoryName \(a new one\), not both/,
    );
  });
});
