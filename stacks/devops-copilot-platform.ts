import { Construct } from "constructs";
// Per-file imports: an app loads only the constructs (and provider resources) it uses.
import { Agent } from "../constructs/agent.js";
import { AgentCoreRuntime } from "../constructs/agentcore-runtime.js";
import { GatewayBundle } from "../constructs/gateway-bundle.js";
import { GatewayDeployment } from "../constructs/gateway-deployment.js";
import { GatewayRoute, type LlmRoute, type McpRoute, type OpenApiRoute } from "../constructs/gateway-route.js";
import { DESTRUCTIVE_TOOL_PATTERNS, GuardPolicy } from "../constructs/guard-policy.js";
import { McpScopes } from "../constructs/mcp-scopes.js";
import { OktaApps } from "../constructs/okta-apps.js";
import { TICKETS_API } from "./apis.js";
import type { EnvironmentSettings } from "./environments.js";

/**
 * The devops-copilot agent platform, defined once: Okta apps and mcp:read/write/admin scopes, Slack
 * and GitHub MCP upstreams, the internal tickets REST service as tools (OpenAPI), Anthropic/OpenAI/xAI
 * routes with failover, guards and limits, the gateway on Kubernetes, and two agents on AgentCore with
 * identities of their own: `triage` reads, `coding` also writes. A construct, so it fits in the default
 * environment stack and in any stack a platform team already has.
 */
export class DevopsCopilotPlatform extends Construct {
  public readonly okta: OktaApps;
  public readonly scopes: McpScopes;
  public readonly bundle: GatewayBundle;
  public readonly gateway: GatewayDeployment;
  /** The devops copilot's AgentCore runtime: the `coding` agent's. */
  public readonly agent: AgentCoreRuntime;
  /** The platform's agents, each an identity of its own: a read-only triage agent and a coding agent that writes. */
  public readonly agents: { readonly triage: Agent; readonly coding: Agent };
  public readonly routes: {
    readonly anthropic: LlmRoute;
    readonly openai: LlmRoute;
    readonly xai: LlmRoute;
    readonly slack: McpRoute;
    readonly github: McpRoute;
    readonly tickets: OpenApiRoute;
  };

  constructor(scope: Construct, id: string, settings: EnvironmentSettings) {
    super(scope, id);
    // The agent app authenticates with private_key_jwt, so one apply brings an environment up: `tollgate keygen`
    // once per environment, its public key into TF_VAR_<stack>_agent_public_jwks, the private key file into the
    // gateway's ephemeral TF_VAR_gateway_okta_agent_private_key (kept out of plan and state).
    this.okta = new OktaApps(this, "Okta", {
      name: settings.stackName,
      gatewayUri: settings.gatewayUrl,
      userApp: { redirectUris: settings.okta.redirectUris },
    });
    this.scopes = new McpScopes(this, "Scopes", { authServer: this.okta });

    const anthropic = GatewayRoute.llm(this, "Anthropic", {
      pathPrefix: "/anthropic",
      providers: [
        { id: "anthropic", kind: "anthropic", baseUrl: "https://api.anthropic.com", apiKeyEnv: "ANTHROPIC_API_KEY" },
        {
          id: "openai-fallback",
          kind: "openai",
          baseUrl: "https://api.openai.com/v1",
          apiKeyEnv: "OPENAI_API_KEY",
          modelMap: { "claude-sonnet-4-5": "gpt-5" },
        },
      ],
    });
    const openai = GatewayRoute.llm(this, "OpenAI", {
      pathPrefix: "/openai",
      providers: [
        { id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" },
        {
          id: "xai-fallback",
          kind: "openai-compatible",
          baseUrl: "https://api.x.ai/v1",
          apiKeyEnv: "XAI_API_KEY",
          modelMap: { "gpt-5": "grok-4" },
        },
      ],
    });
    const xai = GatewayRoute.llm(this, "XAI", {
      pathPrefix: "/xai",
      providers: [
        { id: "xai", kind: "openai-compatible", baseUrl: "https://api.x.ai/v1", apiKeyEnv: "XAI_API_KEY" },
        {
          id: "openai-fallback",
          kind: "openai",
          baseUrl: "https://api.openai.com/v1",
          apiKeyEnv: "OPENAI_API_KEY",
          modelMap: { "grok-4": "gpt-5" },
        },
      ],
    });
    const slack = GatewayRoute.mcp(this, "Slack", {
      upstreamId: "slack",
      url: settings.mcp.slackUrl,
      credentials: {
        mode: "token-exchange",
        authServer: this.okta,
        clients: this.okta,
        audience: settings.mcp.slackAudience,
        scopes: ["slack:read", "slack:write"],
      },
    });
    const github = GatewayRoute.mcp(this, "GitHub", {
      upstreamId: "github",
      url: settings.mcp.githubUrl,
      credentials: { mode: "secret-header", header: "Authorization", prefix: "Bearer ", secretEnv: "GITHUB_TOKEN" },
    });
    // An internal REST service: its OpenAPI operations are the tools, the gateway calls it with its own token.
    const tickets = GatewayRoute.openapi(this, "Tickets", {
      upstreamId: "tickets",
      document: TICKETS_API,
      baseUrl: settings.mcp.ticketsUrl,
      credentials: {
        mode: "secret-header",
        header: "Authorization",
        prefix: "Bearer ",
        secretEnv: "TICKETS_API_TOKEN",
      },
    });
    this.routes = { anthropic, openai, xai, slack, github, tickets };

    const policy = new GuardPolicy(this, "Default", {
      pii: { mode: "mask" },
      promptInjection: { mode: "block" },
      credentialLeak: { mode: "block" },
      limits: {
        windowSeconds: 60,
        requestsPerWindow: settings.limits.requestsPerMinute,
        tokensPerWindow: settings.limits.tokensPerMinute,
      },
      alwaysBlockedTools: [
        { upstream: "*", tools: DESTRUCTIVE_TOOL_PATTERNS, reason: "destructive: never callable through the gateway" },
      ],
    });
    policy.applyTo(anthropic, openai, xai, slack, github, tickets);

    for (const upstream of [slack, github])
      this.scopes.grantTools("mcp:read", upstream, "list_*", "get_*", "search_*", "read_*");
    this.scopes.grantTools("mcp:write", slack, "slack_post_message", "slack_reply_to_thread", "slack_add_reaction");
    this.scopes.grantTools("mcp:write", github, "create_*", "add_*", "update_*");
    for (const upstream of [slack, github]) this.scopes.grantTools("mcp:admin", upstream, "*");
    // GET operations to readers, the others to writers; deleteTicket is never granted (always blocked).
    tickets.openApi.grantAccess(this.scopes, { read: "mcp:read", write: "mcp:write" });

    this.bundle = new GatewayBundle(this, "GatewayBundle", {
      name: "gateway",
      environment: settings.environment,
      authServer: this.okta,
      clients: this.okta,
      routes: [anthropic, openai, xai, slack, github, tickets],
      scopes: this.scopes,
      defaultPolicy: policy,
      rateLimitStore: settings.redis ? { type: "redis" } : { type: "memory" },
      spend: {
        // Tollgate's table has no xAI models: without a price, a budgeted grok-4 request would be refused.
        prices: { "grok-4": { input: 3, cachedInput: 0.75, output: 15 } },
        budgets: [{ id: "user-daily", per: "user", window: "day", maxUsd: settings.spend.userDailyUsd }],
        ...(settings.spend.unknownModelPrice ? { unknownModelPrice: settings.spend.unknownModelPrice } : {}),
      },
    });
    this.gateway = new GatewayDeployment(this, "Gateway", {
      bundle: this.bundle,
      image: settings.gatewayImage,
      namespace: settings.kubernetes.namespace,
      replicas: settings.replicas,
      ...(settings.exposure ? { exposure: settings.exposure } : {}),
    });

    this.agent = new AgentCoreRuntime(this, "Agent", {
      runtimeName: `devops_copilot_${settings.environment}`,
      authServer: this.okta,
      clients: this.okta,
      gateway: this.gateway,
      ...(settings.agentImage.digest
        ? { imageDigest: settings.agentImage.digest }
        : { imageTag: settings.agentImage.tag ?? "latest" }),
    });

    // Each agent has its own Okta app (its key: `tollgate keygen`, the public half in
    // TF_VAR_<stack>_agent_<id>_public_jwks), its own scope ceiling, and the gateway lists it in its bundle.
    // The coding agent keeps the copilot's runtime (`Agent`), so no deployed runtime is replaced.
    const agentBase = { authServer: this.okta, clients: this.okta, gateway: this.gateway, scopeSet: this.scopes };
    this.agents = {
      triage: new Agent(this, "TriageAgent", {
        ...agentBase,
        agentId: "triage",
        scopes: ["mcp:read"],
        runtime: {
          runtimeName: `devops_triage_${settings.environment}`,
          ...(settings.triageAgentImage.digest
            ? { imageDigest: settings.triageAgentImage.digest }
            : { imageTag: settings.triageAgentImage.tag ?? "latest" }),
        },
      }),
      coding: new Agent(this, "CodingAgent", {
        ...agentBase,
        agentId: "coding",
        scopes: ["mcp:read", "mcp:write"],
        runtime: { existing: this.agent },
      }),
    };
    // Each agent's monthly cap, whoever it acts for (an Agent exists only after its gateway, hence addSpendBudget).
    for (const [id, agent] of Object.entries(this.agents) as [keyof typeof this.agents, Agent][])
      this.bundle.addSpendBudget({
        id: `${id}-monthly`,
        per: "agent",
        agent,
        window: "month",
        maxUsd: settings.spend.agentMonthlyUsd[id],
      });
  }
}
