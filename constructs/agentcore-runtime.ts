import { Construct } from "constructs";
import { BedrockagentcoreAgentRuntime } from "@cdktf/provider-aws/lib/bedrockagentcore-agent-runtime/index.js";
import { BedrockagentcoreAgentRuntimeEndpoint } from "@cdktf/provider-aws/lib/bedrockagentcore-agent-runtime-endpoint/index.js";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity/index.js";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition/index.js";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region/index.js";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { Lazy } from "cdktf";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import { imageProblems, isPinned } from "./container-image.js";
import type { IAuthorizationServer, IContainerRepository, IGatewayEndpoint, IOAuthClients } from "./refs.js";
import { agentCoreAssumeRolePolicy } from "./agentcore-trust.js";

/** Actions the execution role may perform, and nothing else. */
const ECR_PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];
const LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"];
/** Tokens only from a verified JWT: `ForUserId` would mint tokens for any caller-supplied user id. */
const WORKLOAD_TOKEN = ["bedrock-agentcore:GetWorkloadAccessToken", "bedrock-agentcore:GetWorkloadAccessTokenForJWT"];
const WORKLOAD_TOKEN_UNVERIFIED = ["bedrock-agentcore:GetWorkloadAccessTokenForUserId"];

interface AgentCoreRuntimeCommonProps {
  /** Runtime name: a letter, then letters, digits or `_`, at most 48 characters. */
  readonly runtimeName: string;
  /** The authorization server whose tokens the runtime accepts (custom JWT authorizer); its audience is the gateway's URL. */
  readonly authServer: IAuthorizationServer;
  /** Only these clients' tokens are accepted: its user app's, and its agent app's unless `agentClients` says otherwise. */
  readonly clients: IOAuthClients;
  /**
   * The agent apps whose tokens the runtime accepts besides the users' (an `Agent` passes its own app).
   * @default [clients.agentClientId]
   */
  readonly agentClients?: readonly string[];
  /** The gateway the agent must go through: its URLs are the runtime's only configuration. */
  readonly gateway: IGatewayEndpoint;
  /**
   * Image digest (`sha256:...`) in the runtime's ECR repository. Required outside dev (TG-IMG-001).
   * @default none: the image is addressed by `imageTag`
   */
  readonly imageDigest?: string;
  /**
   * Image tag, dev only.
   * @default "latest"
   */
  readonly imageTag?: string;
  /**
   * Extra non-secret environment variables. Secret-like names or values fail synth (TG-ENV-001).
   * @default none
   */
  readonly extraEnvironment?: Readonly<Record<string, string>>;
  /** @default "HTTP" */
  readonly serverProtocol?: "HTTP" | "MCP" | "A2A";
  /** @default "PUBLIC" */
  readonly networkMode?: "PUBLIC" | "VPC";
  /**
   * Required when networkMode is VPC.
   * @default none
   */
  readonly vpc?: { readonly subnets: readonly string[]; readonly securityGroups: readonly string[] };
  /**
   * Request headers AgentCore passes through to the agent's code. `Authorization` carries the caller's token
   * (the user's), which the agent presents to the gateway when it acts for the user; without it the agent never
   * sees who called it. Others: any valid header name but `x-amz-*`, `x-amzn-*` (except
   * `X-Amzn-Bedrock-AgentCore-Runtime-Custom-*`) and AgentCore's restricted ones; at most 20.
   * @default ["Authorization"]
   */
  readonly requestHeaderAllowlist?: readonly string[];
}

/** The runtime creates its ECR repository (immutable tags, scan on push). */
export interface AgentCoreRuntimeWithNewRepositoryProps extends AgentCoreRuntimeCommonProps {
  /** @default `${runtimeName}` lower-cased with `_` → `-` */
  readonly repositoryName?: string;
  readonly repository?: undefined;
}

/** The runtime pulls its image from an ECR repository that already exists. */
export interface AgentCoreRuntimeWithExistingRepositoryProps extends AgentCoreRuntimeCommonProps {
  /**
   * The repository (`ImportedEcrRepository.fromRepositoryName` / `fromRepositoryArn`). Nothing is created;
   * the execution role may pull from this repository only.
   */
  readonly repository: IContainerRepository;
  readonly repositoryName?: undefined;
}

export type AgentCoreRuntimeProps =
  AgentCoreRuntimeWithNewRepositoryProps | AgentCoreRuntimeWithExistingRepositoryProps;

/**
 * An AWS Bedrock AgentCore runtime that runs the agent: image from an immutable, scanned ECR
 * repository pinned by digest; inbound auth by a custom JWT authorizer wired to the Okta
 * authorization server (discovery URL, audience, clients); a least-privilege execution role with no
 * model access (model traffic goes through the gateway) and no `"*"` resource; environment limited
 * to the gateway's URLs; a runtime endpoint. To let AgentCore agents reach the same MCP tools
 * through an AgentCore Gateway, add an `AgentCoreMcpGateway`.
 */
export class AgentCoreRuntime extends Construct {
  public readonly environment: string;
  /** The runtime's environment variables, as synthesized. */
  public readonly environmentVariables: Readonly<Record<string, string>>;
  public readonly imagePinned: boolean;
  /** The repository this runtime created; undefined when it uses an existing one (`repository`). */
  public readonly repository: EcrRepository | undefined;
  /** ARN of the repository the image is pulled from: the only one the execution role may read. */
  public readonly repositoryArn: string;
  /** URL of the repository the image is pulled from, without tag or digest. */
  public readonly repositoryUrl: string;
  public readonly role: IamRole;
  public readonly runtime: BedrockagentcoreAgentRuntime;
  public readonly endpoint: BedrockagentcoreAgentRuntimeEndpoint;
  /** The runtime's name, as given. */
  public readonly runtimeName: string;
  /** Client ids whose tokens the JWT authorizer accepts: the platform's user and agent apps, then `acceptClients`. */
  private readonly allowedClients: string[];

  constructor(scope: Construct, id: string, props: AgentCoreRuntimeProps) {
    super(scope, id);
    const errors = propsProblems(props);
    if (errors.length > 0) throw new Error(errors.map((e) => `${this.node.path}: ${e}`).join("\n"));
    this.runtimeName = props.runtimeName;
    this.allowedClients = [props.clients.userClientId, ...(props.agentClients ?? [props.clients.agentClientId])];
    this.environment = props.gateway.environment;
    this.imagePinned = isPinned({ repository: "ecr", ...(props.imageDigest ? { digest: props.imageDigest } : {}) });
    this.environmentVariables = {
      ...(props.gateway.mcpUrl ? { TOLLGATE_MCP_URL: props.gateway.mcpUrl } : {}),
      ...Object.fromEntries(
        Object.entries(props.gateway.llmUrls).map(([route, url]) => [
          `TOLLGATE_LLM_${route.toUpperCase().replace(/-/g, "_")}_URL`,
          url,
        ]),
      ),
      ...(props.extraEnvironment ?? {}),
    };

    const account = new DataAwsCallerIdentity(this, "Account").accountId;
    const region = new DataAwsRegion(this, "Region").region;
    const partition = new DataAwsPartition(this, "Partition").partition;

    if (props.repository) {
      this.repository = undefined;
      this.repositoryArn = props.repository.repositoryArn;
      this.repositoryUrl = props.repository.repositoryUrl;
    } else {
      this.repository = new EcrRepository(this, "Repository", {
        name: props.repositoryName ?? props.runtimeName.toLowerCase().replace(/_/g, "-"),
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: [{ encryptionType: "AES256" }],
      });
      this.repositoryArn = this.repository.arn;
      this.repositoryUrl = this.repository.repositoryUrl;
    }

    const workloadIdentity = [
      `arn:${partition}:bedrock-agentcore:${region}:${account}:workload-identity-directory/default`,
      `arn:${partition}:bedrock-agentcore:${region}:${account}:workload-identity-directory/default/workload-identity/${props.runtimeName}-*`,
    ];
    // The one Resource "*": ecr:GetAuthorizationToken has no resource-level permissions, and AgentCore's
    // documented execution role needs it to log in to ECR before pulling. The token reads nothing by itself:
    // every image read (BatchGetImage, GetDownloadUrlForLayer) is still limited to this runtime's repository.
    this.role = new IamRole(this, "ExecutionRole", {
      name: `${props.runtimeName}-execution`,
      description: `AgentCore runtime ${props.runtimeName}: pull its image, write its logs. No model access: models are reached through the Tollgate gateway.`,
      assumeRolePolicy: agentCoreAssumeRolePolicy({ partition, region, account }),
    });
    new IamRolePolicy(this, "ExecutionPolicy", {
      role: this.role.name,
      name: "least-privilege",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "PullOwnImage", Effect: "Allow", Action: ECR_PULL, Resource: [this.repositoryArn] },
          { Sid: "EcrLogin", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
          {
            Sid: "WriteOwnLogs",
            Effect: "Allow",
            Action: LOGS,
            Resource: [
              `arn:${partition}:logs:${region}:${account}:log-group:/aws/bedrock-agentcore/runtimes/${props.runtimeName}-*`,
            ],
          },
          { Sid: "OwnWorkloadIdentity", Effect: "Allow", Action: WORKLOAD_TOKEN, Resource: workloadIdentity },
          {
            Sid: "NoUnverifiedUserTokens",
            Effect: "Deny",
            Action: WORKLOAD_TOKEN_UNVERIFIED,
            Resource: workloadIdentity,
          },
        ],
      }),
    });

    const imageRef = props.imageDigest
      ? `${this.repositoryUrl}@${props.imageDigest}`
      : `${this.repositoryUrl}:${props.imageTag ?? "latest"}`;
    this.runtime = new BedrockagentcoreAgentRuntime(this, "Runtime", {
      agentRuntimeName: props.runtimeName,
      description: `Agent runtime behind the Tollgate gateway ${props.gateway.publicUrl}`,
      roleArn: this.role.arn,
      agentRuntimeArtifact: [{ containerConfiguration: [{ containerUri: imageRef }] }],
      authorizerConfiguration: [
        {
          customJwtAuthorizer: [
            {
              discoveryUrl: props.authServer.discoveryUrl,
              allowedAudience: [props.authServer.audience],
              allowedClients: Lazy.listValue({ produce: () => [...this.allowedClients] }),
            },
          ],
        },
      ],
      networkConfiguration: [
        {
          networkMode: props.networkMode ?? "PUBLIC",
          ...(props.vpc
            ? {
                networkModeConfig: [{ subnets: [...props.vpc.subnets], securityGroups: [...props.vpc.securityGroups] }],
              }
            : {}),
        },
      ],
      protocolConfiguration: [{ serverProtocol: props.serverProtocol ?? "HTTP" }],
      requestHeaderConfiguration: [
        { requestHeaderAllowlist: [...(props.requestHeaderAllowlist ?? DEFAULT_REQUEST_HEADERS)] },
      ],
      environmentVariables: { ...this.environmentVariables },
    });
    this.endpoint = new BedrockagentcoreAgentRuntimeEndpoint(this, "Endpoint", {
      agentRuntimeId: this.runtime.agentRuntimeId,
      name: "live",
      description: "The endpoint agents are invoked through",
    });

    markKind(this, "AgentCoreRuntime");
    TollgateChecks.ensureOn(this);
  }

  /** Lets the JWT authorizer also accept these clients' tokens (an `Agent`'s own app). */
  public acceptClients(...clientIds: string[]): void {
    for (const id of clientIds) if (!this.allowedClients.includes(id)) this.allowedClients.push(id);
  }

  /**
   * The headers AgentCore passes through to the agent, as the resource will be synthesized (read back from it,
   * so a later `putRequestHeaderConfiguration` on `runtime` counts too).
   */
  public get requestHeaderAllowlist(): readonly string[] {
    const config = this.runtime.requestHeaderConfiguration.internalValue;
    return Array.isArray(config) ? config.flatMap((c) => c.requestHeaderAllowlist ?? []) : [];
  }
}

const DEFAULT_REQUEST_HEADERS = ["Authorization"] as const;
/** Headers AgentCore refuses to pass through (its restricted list), lower-cased. */
const RESTRICTED_HEADERS = new Set(
  [
    "proxy-authorization",
    "www-authenticate",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "content-location",
    "content-range",
    "cache-control",
    "etag",
    "expires",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "pragma",
    "vary",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "host",
    "referer",
    "user-agent",
    "from",
    "range",
    "accept-ranges",
    "transfer-encoding",
    "te",
    "trailer",
  ].map((h) => h.toLowerCase()),
);
const CUSTOM_HEADER_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-";

/** Why AgentCore would refuse the allowlist, one problem per entry. */
function requestHeaderProblems(headers: readonly string[]): string[] {
  const errors: string[] = [];
  const where = "AgentCoreRuntime.requestHeaderAllowlist";
  if (headers.length > 20) errors.push(`${where}: at most 20 headers (AgentCore's limit), got ${headers.length}`);
  const seen = new Set<string>();
  for (const header of headers) {
    const lower = header.toLowerCase();
    if (!/^[A-Za-z0-9_-]+$/.test(header))
      errors.push(`${where}: ${JSON.stringify(header)} is not a header name (letters, digits, - and _)`);
    else if (seen.has(lower)) errors.push(`${where}: ${JSON.stringify(header)} is listed twice (names ignore case)`);
    else if (RESTRICTED_HEADERS.has(lower))
      errors.push(`${where}: ${JSON.stringify(header)} is one of AgentCore's restricted headers: remove it`);
    else if (lower.startsWith("x-amz-") || (lower.startsWith("x-amzn-") && !lower.startsWith(CUSTOM_HEADER_PREFIX)))
      errors.push(
        `${where}: ${JSON.stringify(header)} is reserved by AWS: use X-Amzn-Bedrock-AgentCore-Runtime-Custom-<name> or a name without x-amz`,
      );
    seen.add(lower);
  }
  return errors;
}

/** Every problem with the props, each naming the prop and the fix. */
function propsProblems(props: AgentCoreRuntimeProps): string[] {
  const errors: string[] = [];
  if (!/^[a-zA-Z][a-zA-Z0-9_]{0,47}$/.test(props.runtimeName)) {
    errors.push(
      `AgentCoreRuntime.runtimeName: expected a letter then letters, digits or _ (≤ 48), got ${JSON.stringify(props.runtimeName)}`,
    );
  }
  if (props.imageDigest)
    errors.push(...imageProblems({ repository: "ecr", digest: props.imageDigest }, "AgentCoreRuntime.image"));
  if (props.imageDigest && props.imageTag) errors.push("AgentCoreRuntime: set imageDigest or imageTag, not both");
  if ((props.networkMode ?? "PUBLIC") === "VPC" && !props.vpc)
    errors.push("AgentCoreRuntime.vpc: required when networkMode is VPC (subnets and security groups)");
  if (props.requestHeaderAllowlist) errors.push(...requestHeaderProblems(props.requestHeaderAllowlist));
  if (props.repository && props.repositoryName !== undefined)
    errors.push("AgentCoreRuntime: set repository (an existing one) or repositoryName (a new one), not both");
  return errors;
}
