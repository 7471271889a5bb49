/**
 * Typed references between Tollgate constructs. Constructs wire to each other through these
 * interfaces, never through free-form strings, so a scope, an upstream or an authorization server
 * that does not exist cannot be referenced.
 */
import type { ITerraformDependable } from "cdktf";
import type { IConstruct } from "constructs";

/** An OAuth authorization server that issues the tokens the gateway and the agent runtime accept. */
export interface IAuthorizationServer extends IConstruct {
  /** Terraform reference to the authorization server id. */
  readonly authServerId: string;
  /** The `iss` of its tokens (Terraform reference: known after apply). */
  readonly issuer: string;
  /** OIDC discovery document URL (`${issuer}/.well-known/openid-configuration`). */
  readonly discoveryUrl: string;
  /** JWKS URL (`${issuer}/v1/keys`). */
  readonly jwksUri: string;
  /** Token endpoint (`${issuer}/v1/token`), used for client credentials and token exchange. */
  readonly tokenUrl: string;
  /**
   * The audience of its access tokens: the gateway's public URL. Declared once, here (`OktaApps.gatewayUri`
   * or the `audience` of `OktaApps.fromAuthServerId`); the gateway, its bundle and the agents read it from here.
   */
  readonly audience: string;
  /**
   * Makes scopes requestable through the authorization server's access policy.
   * @param names scope names
   * @param dependencies Terraform resources the policy rules must wait for (the scopes themselves)
   * @param privileged scopes only a human may grant (never issued to client credentials)
   */
  allowScopes(
    names: readonly string[],
    dependencies?: readonly ITerraformDependable[],
    privileged?: readonly string[],
  ): void;
}

/**
 * How the agent app authenticates at the token endpoint, and so how the gateway does when it uses the app's
 * client id upstream (token exchange, client credentials). The credential is a variable of the gateway's Secret.
 */
export type AgentClientAuthentication =
  /** RFC 7523: the gateway signs a client assertion with the private key in `privateKeyEnv`; Okta holds only public keys. */
  | { readonly method: "private_key_jwt"; readonly privateKeyEnv: string }
  /** client_secret_basic with the secret in `secretEnv`. */
  | { readonly method: "client_secret"; readonly secretEnv: string }
  /** Tollgate hands the gateway no credential for the app (a public client, or an app used only for its id). */
  | { readonly method: "none" };

/** The OAuth clients an environment's users and agents authenticate with. */
export interface IOAuthClients extends IConstruct {
  /** Client id of the user-facing app (authorization code + PKCE). Terraform reference. */
  readonly userClientId: string;
  /** Client id of the agent service app (client credentials, token exchange). Terraform reference. */
  readonly agentClientId: string;
  /** Environment variable that holds the agent app's client secret, when it authenticates with one. */
  readonly agentClientSecretEnv: string | undefined;
  /**
   * How the agent app authenticates at the token endpoint.
   * @default a client secret in `agentClientSecretEnv` when set, else none
   */
  readonly agentClientAuth?: AgentClientAuthentication;
}

/** An MCP server the gateway fronts. Its tools appear as `${upstreamId}__${tool}`. */
export interface IMcpUpstream extends IConstruct {
  /** Tells an MCP upstream from an LLM route: an LLM route does not satisfy this interface. */
  readonly kind: "mcp";
  readonly upstreamId: string;
}

/** Whether Okta asks the user before an app gets a scope. */
export type ScopeConsent = "REQUIRED" | "IMPLICIT";

/** What `grantTools` granted: holders of `scope` may see and call `tools` of `upstream`. */
export interface ToolGrantRecord {
  readonly scope: string;
  readonly upstream: IMcpUpstream;
  readonly tools: readonly string[];
}

/** What `denyTools` denied, for every scope. */
export interface ToolDenyRecord {
  readonly upstream: IMcpUpstream | "*";
  readonly tools: readonly string[];
  readonly reason: string;
}

/**
 * A set of OAuth scopes that tool grants refer to: scopes Tollgate creates (`McpScopes`) or scopes that
 * already exist on an authorization server (`McpScopes.fromScopeNames`).
 * @typeParam S the scope names, as literal types when they are known in the editor
 */
export interface IScopeSet<S extends string = string> extends IConstruct {
  /** Every scope name the set holds. */
  readonly names: readonly S[];
  /** Scopes only a human may grant: never issued to client credentials. */
  readonly privileged: readonly S[];
  /** Scope name → consent, for the scopes whose consent Tollgate manages (none for imported scopes). */
  readonly consent: Readonly<Record<string, ScopeConsent>>;
  /** Every grant made so far, in order. */
  readonly grants: readonly ToolGrantRecord[];
  /** Every deny rule made so far, in order. */
  readonly denies: readonly ToolDenyRecord[];
  /** Lets holders of `scopeName` see and call the tools of `upstream` matching `patterns` (`*` wildcards). */
  grantTools(scopeName: S, upstream: IMcpUpstream, ...patterns: string[]): ToolGrantRecord;
  /** Hides and refuses tools of `upstream` (or every upstream: `"*"`) whatever the scopes. Deny wins over grants. */
  denyTools(upstream: IMcpUpstream | "*", patterns: readonly string[], reason: string): ToolDenyRecord;
}

/** An ECR repository that holds an agent's image. */
export interface IContainerRepository extends IConstruct {
  /** Repository name. May be a Terraform reference. */
  readonly repositoryName: string;
  /** Repository ARN: the only resource the execution role may pull images from. May be a Terraform reference. */
  readonly repositoryArn: string;
  /** `registry/name`, without tag or digest. May be a Terraform reference. */
  readonly repositoryUrl: string;
}

/** Where agents reach the gateway: only these URLs may be handed to an agent runtime. */
export interface IGatewayEndpoint extends IConstruct {
  /** The environment the gateway serves (`dev`, `prod`...). */
  readonly environment: string;
  /** The gateway's canonical URI (token audience). May be a Terraform reference. */
  readonly publicUrl: string;
  /** `${publicUrl}${mcpPath}`, present when the gateway fronts MCP upstreams. */
  readonly mcpUrl: string | undefined;
  /** LLM route id → `${publicUrl}${pathPrefix}`. */
  readonly llmUrls: Readonly<Record<string, string>>;
}

/** An agent as the gateway knows it: an identity of its own, with the scopes it may ever exercise. */
export interface IAgentIdentity extends IConstruct {
  /** Stable id: the `agent` of audit events, limit keys and metric labels (`[a-z][a-z0-9-]{0,15}`). */
  readonly agentId: string;
  /** Client id of the agent's own OAuth app. Terraform reference: Okta assigns it at apply. */
  readonly clientId: string;
  /** Every scope the agent may exercise, alone or for a user: its ceiling. */
  readonly scopes: readonly string[];
}

/** A gateway that enforces agents' ceilings (`GatewayBundle`, `GatewayDeployment`). */
export interface IAgentGateway extends IGatewayEndpoint {
  /** Lists the agent in the gateway's bundle (`agents`) and accepts its app's tokens. */
  addAgent(agent: IAgentIdentity): void;
  /** The agents added so far, in order. */
  readonly agents: readonly IAgentIdentity[];
}
