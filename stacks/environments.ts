/**
 * Typed per-environment settings of the default Tollgate environment (the devops-copilot platform).
 * Everything that differs between dev and prod is here; the platform itself is defined once in
 * `devops-copilot-platform.ts`.
 */
import type { ContainerImage } from "../constructs/container-image.js";
import type { GatewayExposure } from "../constructs/gateway-ingress.js";

export type EnvironmentName = "dev" | "prod";

/** Where Terraform keeps state. Prod uses S3 with native locking (`use_lockfile`), dev a local file. */
export type StateBackend =
  | { readonly kind: "local"; readonly path: string }
  | { readonly kind: "s3"; readonly bucket: string; readonly key: string; readonly region: string };

export interface EnvironmentSettings {
  readonly environment: EnvironmentName;
  /** cdktf stack name: the directory under cdktf.out/stacks/. */
  readonly stackName: string;
  /** The gateway's canonical URI (token audience). */
  readonly gatewayUrl: string;
  readonly okta: {
    /** Okta org name and base URL; the API token comes from OKTA_API_TOKEN in the deploying shell, never from code. */
    readonly orgName: string;
    readonly baseUrl: string;
    /** Exact redirect URIs of the user-facing app. */
    readonly redirectUris: readonly string[];
  };
  readonly aws: { readonly region: string };
  readonly kubernetes: { readonly configPath: string; readonly configContext: string; readonly namespace: string };
  readonly backend: StateBackend;
  readonly gatewayImage: ContainerImage;
  /** The copilot's (coding agent's) image in its runtime's ECR repository: a digest outside dev. */
  readonly agentImage: { readonly digest?: string; readonly tag?: string };
  /** The triage agent's image in its runtime's ECR repository: a digest outside dev. */
  readonly triageAgentImage: { readonly digest?: string; readonly tag?: string };
  readonly replicas: number;
  /** How the gateway is reached from outside the cluster (TLS on the host of gatewayUrl). @default inside the cluster only */
  readonly exposure?: GatewayExposure;
  /** Share rate-limit budgets through Redis (URL from the REDIS_URL secret). */
  readonly redis: boolean;
  readonly mcp: {
    /** Streamable-HTTP endpoint of the Slack MCP server (reached with the user's exchanged token). */
    readonly slackUrl: string;
    /** Audience Okta issues exchanged tokens for, as the Slack MCP server expects it. */
    readonly slackAudience: string;
    /** GitHub's hosted MCP server. */
    readonly githubUrl: string;
    /** Base URL of the internal tickets REST service (its operations become `tickets__*` tools). */
    readonly ticketsUrl: string;
  };
  readonly limits: { readonly requestsPerMinute: number; readonly tokensPerMinute: number };
  /** LLM spend caps in US dollars: each user per day, and each agent per calendar month. */
  readonly spend: {
    readonly userDailyUsd: number;
    readonly agentMonthlyUsd: { readonly triage: number; readonly coding: number };
    /**
     * USD per million tokens billed for a model the price table does not list; without it such a model is refused
     * while a budget applies. Dev bills new models at a conservative price so developers can try them; prod refuses.
     */
    readonly unknownModelPrice?: { readonly input: number; readonly output: number };
  };
}

export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentSettings>> = {
  dev: {
    environment: "dev",
    stackName: "tollgate-dev",
    gatewayUrl: "https://gateway.dev.tollgate.example.com",
    okta: {
      orgName: "tollgate-dev",
      baseUrl: "okta.com",
      redirectUris: ["https://copilot.dev.tollgate.example.com/callback", "http://localhost:8976/callback"],
    },
    aws: { region: "eu-west-1" },
    kubernetes: { configPath: "~/.kube/config", configContext: "tollgate-dev", namespace: "tollgate" },
    backend: { kind: "local", path: "terraform.tollgate-dev.tfstate" },
    gatewayImage: { repository: "ghcr.io/tollgate-dev/tollgate", tag: "dev" },
    agentImage: { tag: "dev" },
    triageAgentImage: { tag: "dev" },
    replicas: 1,
    redis: false,
    mcp: {
      slackUrl: "http://slack-mcp.tollgate.svc.cluster.local:8080/mcp",
      slackAudience: "api://slack-mcp",
      githubUrl: "https://api.githubcopilot.com/mcp/",
      ticketsUrl: "http://tickets.tollgate.svc.cluster.local:8080/v1",
    },
    limits: { requestsPerMinute: 120, tokensPerMinute: 200_000 },
    spend: {
      userDailyUsd: 5,
      agentMonthlyUsd: { triage: 20, coding: 100 },
      unknownModelPrice: { input: 15, output: 75 },
    },
  },
  prod: {
    environment: "prod",
    stackName: "tollgate-prod",
    gatewayUrl: "https://gateway.tollgate.example.com",
    okta: {
      orgName: "tollgate",
      baseUrl: "okta.com",
      redirectUris: ["https://copilot.tollgate.example.com/callback"],
    },
    aws: { region: "eu-west-1" },
    kubernetes: { configPath: "~/.kube/config", configContext: "tollgate-prod", namespace: "tollgate" },
    backend: {
      kind: "s3",
      bucket: "tollgate-terraform-state",
      key: "tollgate-prod/terraform.tfstate",
      region: "eu-west-1",
    },
    // Release pipeline: bump these digests together with the release tag.
    gatewayImage: {
      repository: "ghcr.io/tollgate-dev/tollgate",
      digest: "sha256:4f8c7b1e9d2a6c3f5e0b8a7d6c5b4a3928171615141312111009080706050403",
    },
    agentImage: { digest: "sha256:9a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0" },
    triageAgentImage: { digest: "sha256:7e6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b4a3928170615f4e3d2c1b0a9" },
    replicas: 3,
    exposure: {
      kind: "alb",
      certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0f6c1b2a-3d4e-5f60-7182-93a4b5c6d7e8",
      dns: { zoneId: "Z0123456789TOLLGATE" },
    },
    redis: true,
    mcp: {
      slackUrl: "https://slack-mcp.internal.tollgate.example.com/mcp",
      slackAudience: "api://slack-mcp",
      githubUrl: "https://api.githubcopilot.com/mcp/",
      ticketsUrl: "https://tickets.internal.tollgate.example.com/v1",
    },
    limits: { requestsPerMinute: 60, tokensPerMinute: 100_000 },
    spend: { userDailyUsd: 25, agentMonthlyUsd: { triage: 300, coding: 2000 } },
  },
};
