import { Construct } from "constructs";
import { AppOauth } from "@cdktf/provider-okta/lib/app-oauth/index.js";
import { AuthServerPolicy } from "@cdktf/provider-okta/lib/auth-server-policy/index.js";
import { AuthServerPolicyRule } from "@cdktf/provider-okta/lib/auth-server-policy-rule/index.js";
import { type ITerraformDependable, type TerraformVariable, TerraformStack } from "cdktf";
import { TOKEN_EXCHANGE_GRANT } from "../policies/oauth/index.js";
import { AgentCoreRuntime, type AgentCoreRuntimeProps } from "./agentcore-runtime.js";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import { type PublicJwk, jwksBlock, publicJwksVariable, registerKeysFrom } from "./okta-keys.js";
import type { IAgentGateway, IAgentIdentity, IAuthorizationServer, IOAuthClients, IScopeSet } from "./refs.js";

/** What the agent's own AgentCore runtime runs: everything of `AgentCoreRuntime` but the wiring `Agent` does. */
export type AgentRuntimeSettings = DistributiveOmit<
  AgentCoreRuntimeProps,
  "authServer" | "clients" | "gateway" | "agentClients"
>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface AgentProps<S extends string = string> {
  /**
   * Stable id (`[a-z][a-z0-9-]{0,15}`): the `agent` of audit events, limit and budget keys, metric labels, and
   * part of its Okta label and key variable. Changing it is a new agent.
   */
  readonly agentId: string;
  /** The authorization server that issues the agent's tokens and the users' tokens its runtime accepts. */
  readonly authServer: IAuthorizationServer;
  /** The platform's apps: the runtime accepts tokens of its user app (`userClientId`), the users the agent acts for. */
  readonly clients: IOAuthClients;
  /** The gateway the agent goes through: it lists the agent in its bundle and enforces its ceiling. */
  readonly gateway: IAgentGateway;
  /** The scopes `scopes` are taken from. */
  readonly scopeSet: IScopeSet<S>;
  /**
   * Every scope the agent may exercise: its ceiling. Alone (client credentials) it gets those of them that are
   * not privileged; acting for a user, the ones the user holds too (user ∩ agent).
   */
  readonly scopes: readonly NoInfer<S>[];
  /**
   * The agent's AgentCore runtime: settings for a new one (created as `Runtime` under the agent), or `{ existing }`
   * to adopt a runtime the app already has (its JWT authorizer then also accepts the agent's app).
   */
  readonly runtime: AgentRuntimeSettings | { readonly existing: AgentCoreRuntime };
  /** @default `<stack name> (agent <agentId>)` */
  readonly label?: string;
  /**
   * Public keys of the agent's app (`private_key_jwt`; two while a key is rotated). Omitted, they are read at plan
   * from the variable `<stack name>_agent_<agentId>_public_jwks` (`Agent.publicJwksVariable`): the stdout of
   * `tollgate keygen`. The private key stays with the agent (its own secret store), never in Terraform.
   * @default the variable
   */
  readonly publicJwks?: readonly PublicJwk[];
  /**
   * Let the agent exchange a user's token for one that names it as the actor (RFC 8693).
   * @default true
   */
  readonly tokenExchange?: boolean;
  /**
   * Priority of the agent's access policy on the authorization server (1 is evaluated first; Okta applies the
   * first policy whose clients include the app). Unique per server. Required on a server Tollgate did not create
   * (`OktaApps.fromAuthServerId`): Tollgate adds nothing there without being told where.
   * @default 2 + the number of agents the gateway held before this one (on a server Tollgate creates)
   */
  readonly accessPolicyPriority?: number;
}

/**
 * One agent as an identity of its own: its own Okta service app (client credentials and token exchange,
 * `private_key_jwt`: no secret anywhere), an access policy that lets the app request only its scopes, its own
 * AgentCore runtime whose JWT authorizer accepts the platform's users and the agent, and which passes the caller's
 * `Authorization` header through to the agent's code. The gateway lists it in its bundle's `agents`, so audit,
 * limits and grants tell this agent from every other, and revoking it (deactivating its app) revokes only it.
 */
export class Agent<const S extends string = string> extends Construct implements IAgentIdentity {
  public readonly agentId: string;
  public readonly scopes: readonly S[];
  /** Client id of the agent's app (Terraform reference). */
  public readonly clientId: string;
  /** The agent's Okta service app. */
  public readonly app: AppOauth;
  /** The variable holding the app's public keys; undefined when `publicJwks` is given. */
  public readonly publicJwksVariable: TerraformVariable | undefined;
  /** The access policy that lets the app request its scopes, and its rules. */
  public readonly policy: AuthServerPolicy;
  /** Client credentials (the agent alone): the ceiling's non-privileged scopes; undefined when every scope is privileged. */
  public readonly clientCredentialsRule: AuthServerPolicyRule | undefined;
  /** Token exchange (the agent for a user); undefined without `tokenExchange`. */
  public readonly tokenExchangeRule: AuthServerPolicyRule | undefined;
  /** The agent's AgentCore runtime (created, or adopted through `runtime.existing`). */
  public readonly runtime: AgentCoreRuntime;
  /** The gateway the agent goes through. */
  public readonly gateway: IAgentGateway;
  /** The scope set its scopes come from (for the checks). */
  public readonly scopeSet: IScopeSet<S>;

  constructor(scope: Construct, id: string, props: AgentProps<S>) {
    super(scope, id);
    const errors = propsProblems(props);
    if (errors.length > 0) throw new Error(errors.map((e) => `${this.node.path}: ${e}`).join("\n"));
    this.agentId = props.agentId;
    this.scopes = [...props.scopes];
    this.scopeSet = props.scopeSet;
    this.gateway = props.gateway;
    const stackName = TerraformStack.of(this).node.id;
    const tokenExchange = props.tokenExchange ?? true;

    this.publicJwksVariable = props.publicJwks
      ? undefined
      : publicJwksVariable(
          this,
          "PublicJwks",
          `${stackName}_agent_${props.agentId}_public_jwks`,
          `the Okta app of agent "${props.agentId}" (${stackName})`,
          "the agent's own secret store",
        );
    this.app = new AppOauth(this, "App", {
      label: props.label ?? `${stackName} (agent ${props.agentId})`,
      type: "service",
      grantTypes: ["client_credentials", ...(tokenExchange ? [TOKEN_EXCHANGE_GRANT] : [])],
      responseTypes: ["token"],
      tokenEndpointAuthMethod: "private_key_jwt",
      ...(props.publicJwks ? { jwks: props.publicJwks.map(jwksBlock) } : {}),
    });
    if (this.publicJwksVariable) registerKeysFrom(this.app, this.publicJwksVariable);
    this.clientId = this.app.clientId;

    this.policy = new AuthServerPolicy(this, "Policy", {
      authServerId: props.authServer.authServerId,
      name: `${stackName}-agent-${props.agentId}`,
      description: `What agent ${props.agentId} may request: its scopes, alone or for a user`,
      priority: props.accessPolicyPriority ?? 2 + props.gateway.agents.length,
      clientWhitelist: [this.clientId],
    });
    const dependsOn = scopeResources(props.scopeSet, this.scopes);
    const privileged = new Set<string>(props.scopeSet.privileged);
    // Client credentials act without a human: never hand them a privileged (consent-gated) scope.
    const alone = this.scopes.filter((s) => !privileged.has(s));
    this.clientCredentialsRule =
      alone.length === 0
        ? undefined
        : new AuthServerPolicyRule(this, "ClientCredentialsRule", {
            authServerId: props.authServer.authServerId,
            policyId: this.policy.id,
            name: "alone",
            priority: 1,
            grantTypeWhitelist: ["client_credentials"],
            groupWhitelist: ["EVERYONE"],
            scopeWhitelist: [...alone],
            dependsOn,
          });
    this.tokenExchangeRule = tokenExchange
      ? new AuthServerPolicyRule(this, "TokenExchangeRule", {
          authServerId: props.authServer.authServerId,
          policyId: this.policy.id,
          name: "for-a-user",
          priority: 2,
          grantTypeWhitelist: [TOKEN_EXCHANGE_GRANT],
          groupWhitelist: ["EVERYONE"],
          scopeWhitelist: [...this.scopes],
          dependsOn,
        })
      : undefined;

    if ("existing" in props.runtime) {
      this.runtime = props.runtime.existing;
      this.runtime.acceptClients(this.clientId);
    } else {
      this.runtime = new AgentCoreRuntime(this, "Runtime", {
        ...props.runtime,
        authServer: props.authServer,
        clients: props.clients,
        agentClients: [this.clientId],
        gateway: props.gateway,
      } as AgentCoreRuntimeProps);
    }

    props.gateway.addAgent(this);
    markKind(this, "Agent");
    TollgateChecks.ensureOn(this);
  }
}

/** The scope resources the rules must wait for, when the set creates them (`McpScopes.resources`). */
function scopeResources(set: IScopeSet, names: readonly string[]): ITerraformDependable[] {
  const resources = (set as Partial<{ resources: Readonly<Record<string, ITerraformDependable>> }>).resources;
  return resources ? names.flatMap((n) => (resources[n] ? [resources[n]] : [])) : [];
}

/** A server Tollgate did not create: it tells scope listeners (`ImportedAuthorizationServer.onScopesAllowed`). */
function isImportedServer(server: IAuthorizationServer): boolean {
  return typeof (server as Partial<{ onScopesAllowed: unknown }>).onScopesAllowed === "function";
}

/** Every problem with the props, each naming the prop and the fix. */
function propsProblems(props: AgentProps): string[] {
  const errors: string[] = [];
  if (props.accessPolicyPriority === undefined && isImportedServer(props.authServer))
    errors.push(
      "Agent.accessPolicyPriority: the authorization server already exists (OktaApps.fromAuthServerId): choose the priority of the agent's access policy among your own policies",
    );
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(props.agentId))
    errors.push(
      `Agent.agentId: expected a lower-case letter then letters, digits or - (≤ 16), got ${JSON.stringify(props.agentId)}`,
    );
  if (props.scopes.length === 0)
    errors.push("Agent.scopes: an agent needs at least one scope (its ceiling): list the scopes it may exercise");
  const seen = new Set<string>();
  for (const scope of props.scopes) {
    if (seen.has(scope)) errors.push(`Agent.scopes: "${scope}" is listed twice`);
    seen.add(scope);
  }
  if (props.publicJwks?.length === 0)
    errors.push(
      "Agent.publicJwks: at least one public key (tollgate keygen), or omit it to read the keys from the variable",
    );
  for (const key of props.publicJwks ?? [])
    if ("d" in key)
      errors.push(
        `Agent.publicJwks: key ${JSON.stringify(key.kid)} holds a private key ("d"): register only the public key (stdout of tollgate keygen)`,
      );
  const priority = props.accessPolicyPriority;
  if (priority !== undefined && (!Number.isInteger(priority) || priority < 1))
    errors.push(`Agent.accessPolicyPriority: expected an integer ≥ 1, got ${priority}`);
  return errors;
}
