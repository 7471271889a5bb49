import { Construct } from "constructs";
import { AppGroupAssignment } from "@cdktf/provider-okta/lib/app-group-assignment/index.js";
import { AppOauth } from "@cdktf/provider-okta/lib/app-oauth/index.js";
import { AuthServer } from "@cdktf/provider-okta/lib/auth-server/index.js";
import { AuthServerPolicy } from "@cdktf/provider-okta/lib/auth-server-policy/index.js";
import { AuthServerPolicyRule } from "@cdktf/provider-okta/lib/auth-server-policy-rule/index.js";
import { Group } from "@cdktf/provider-okta/lib/group/index.js";
import { type ITerraformDependable, Fn, Lazy, Token, dependable } from "cdktf";
import type { IAuthorizationServer, IOAuthClients } from "./refs.js";

/** The RFC 8693 grant type, as Okta names it. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** Scopes every interactive login needs besides the MCP scopes. */
const OIDC_SCOPES = ["openid", "profile", "email", "offline_access"] as const;

/** An authorization server that already exists in the Okta org. */
export interface ExistingAuthorizationServer {
  /** Its id (`aus...`). */
  readonly id: string;
  /** Its issuer, exactly as tokens carry it (e.g. `https://example.okta.com/oauth2/aus...`). */
  readonly issuer: string;
}

export interface UserAppProps {
  /**
   * Exact redirect URIs: https, or http on a loopback host for native/CLI clients (RFC 8252).
   * Wildcards are refused.
   */
  readonly redirectUris: readonly string[];
  /** @default none */
  readonly postLogoutRedirectUris?: readonly string[];
  /** @default `${name} (users)` */
  readonly label?: string;
}

export interface AgentAppProps {
  /** @default `${name} (agents)` */
  readonly label?: string;
  /**
   * Public keys (RSA JWKs) for `private_key_jwt` client authentication. When omitted the app uses
   * a client secret that Okta generates and Terraform never stores (`omit_secret`); the operator
   * copies it into the gateway's Kubernetes Secret as `agentClientSecretEnv`.
   * @default client secret, not persisted to state
   */
  readonly publicJwks?: readonly { readonly kid: string; readonly n: string; readonly e: string }[];
  /**
   * Let the agent exchange a user's token for one on the user's behalf (RFC 8693).
   * @default true
   */
  readonly tokenExchange?: boolean;
}

export interface OktaAppsProps {
  /** Prefix for Okta object names, e.g. `tollgate-dev`. */
  readonly name: string;
  /** The gateway's canonical URI: the audience of every access token (Okta ignores RFC 8707). */
  readonly gatewayUri: string;
  /**
   * Use this authorization server instead of creating a dedicated one. Its audience must be
   * `gatewayUri`.
   * @default a dedicated custom authorization server
   */
  readonly existingAuthServer?: ExistingAuthorizationServer;
  readonly userApp: UserAppProps;
  /** @default a service app with client credentials and token exchange */
  readonly agentApp?: AgentAppProps;
  /**
   * Okta group whose members may sign in. Pass `{ existingGroupId }` to use one you manage.
   * @default a new group `${name}-users`
   */
  readonly userGroup?: { readonly existingGroupId: string } | { readonly name: string };
  /** @default 60 */
  readonly accessTokenLifetimeMinutes?: number;
  /** @default 1440 */
  readonly refreshTokenLifetimeMinutes?: number;
  /**
   * Environment variable (in the gateway) that holds the agent app's client secret.
   * @default "OKTA_AGENT_CLIENT_SECRET"
   */
  readonly agentClientSecretEnv?: string;
}

/**
 * The Okta side of an environment: a dedicated custom authorization server whose audience is the
 * gateway, a user-facing app (authorization code + PKCE, exact redirects), an agent service app
 * (client credentials + token exchange, no secret in Terraform state), the access policy and its
 * rules, and the group allowed to sign in.
 */
export class OktaApps extends Construct implements IAuthorizationServer, IOAuthClients {
  public readonly authServerId: string;
  public readonly issuer: string;
  public readonly discoveryUrl: string;
  public readonly jwksUri: string;
  public readonly tokenUrl: string;
  public readonly audience: string;
  public readonly userClientId: string;
  public readonly agentClientId: string;
  public readonly agentClientSecretEnv: string | undefined;
  /** The Terraform resources, for attribute-level customisation. */
  public readonly userApp: AppOauth;
  public readonly agentApp: AppOauth;
  public readonly policy: AuthServerPolicy;
  public readonly userRule: AuthServerPolicyRule;
  public readonly agentRule: AuthServerPolicyRule;
  /** Redirect URIs as given, checked by the construct's validation. */
  public readonly redirectUris: readonly string[];
  /** Whether the agent app may use the token-exchange grant. */
  public readonly tokenExchange: boolean;

  private readonly allowedScopes = new Set<string>();
  private readonly privilegedScopes = new Set<string>();

  constructor(scope: Construct, id: string, props: OktaAppsProps) {
    super(scope, id);
    this.audience = props.gatewayUri;
    this.redirectUris = props.userApp.redirectUris;
    this.tokenExchange = props.agentApp?.tokenExchange ?? true;
    const accessMinutes = props.accessTokenLifetimeMinutes ?? 60;
    const refreshMinutes = props.refreshTokenLifetimeMinutes ?? 1440;

    if (props.existingAuthServer) {
      this.authServerId = props.existingAuthServer.id;
      this.issuer = props.existingAuthServer.issuer;
    } else {
      const server = new AuthServer(this, "AuthServer", {
        name: props.name,
        description: `Tokens for the Tollgate gateway ${props.gatewayUri}`,
        audiences: [props.gatewayUri],
        issuerMode: "ORG_URL",
      });
      this.authServerId = server.id;
      this.issuer = server.issuer;
    }
    // Fn.join keeps the reference a single Terraform expression (usable inside jsonencode for values.json).
    const underIssuer = (suffix: string) =>
      Token.isUnresolved(this.issuer) ? Fn.join("", [this.issuer, suffix]) : `${this.issuer}${suffix}`;
    this.discoveryUrl = underIssuer("/.well-known/openid-configuration");
    this.jwksUri = underIssuer("/v1/keys");
    this.tokenUrl = underIssuer("/v1/token");

    this.userApp = new AppOauth(this, "UserApp", {
      label: props.userApp.label ?? `${props.name} (users)`,
      type: "browser",
      grantTypes: ["authorization_code", "refresh_token"],
      responseTypes: ["code"],
      tokenEndpointAuthMethod: "none",
      pkceRequired: true,
      redirectUris: [...props.userApp.redirectUris],
      postLogoutRedirectUris: props.userApp.postLogoutRedirectUris
        ? [...props.userApp.postLogoutRedirectUris]
        : undefined,
      wildcardRedirect: "DISABLED",
      consentMethod: "REQUIRED",
      refreshTokenRotation: "ROTATE",
      refreshTokenLeeway: 30,
    });

    const jwks = props.agentApp?.publicJwks;
    this.agentClientSecretEnv = jwks ? undefined : (props.agentClientSecretEnv ?? "OKTA_AGENT_CLIENT_SECRET");
    this.agentApp = new AppOauth(this, "AgentApp", {
      label: props.agentApp?.label ?? `${props.name} (agents)`,
      type: "service",
      grantTypes: ["client_credentials", ...(this.tokenExchange ? [TOKEN_EXCHANGE_GRANT] : [])],
      responseTypes: ["token"],
      ...(jwks
        ? {
            tokenEndpointAuthMethod: "private_key_jwt",
            jwks: jwks.map((k) => ({ kty: "RSA", kid: k.kid, n: k.n, e: k.e })),
          }
        : { tokenEndpointAuthMethod: "client_secret_basic", omitSecret: true }),
    });
    this.userClientId = this.userApp.clientId;
    this.agentClientId = this.agentApp.clientId;

    const groupId =
      props.userGroup && "existingGroupId" in props.userGroup
        ? props.userGroup.existingGroupId
        : new Group(this, "UserGroup", {
            name: props.userGroup?.name ?? `${props.name}-users`,
            description: `People who may use the agents of ${props.name}`,
          }).id;
    new AppGroupAssignment(this, "UserGroupAssignment", { appId: this.userApp.id, groupId });

    this.policy = new AuthServerPolicy(this, "Policy", {
      authServerId: this.authServerId,
      name: `${props.name}-gateway`,
      description: "Who may get tokens for the Tollgate gateway",
      priority: 1,
      clientWhitelist: [this.userApp.clientId, this.agentApp.clientId],
    });
    const scopeWhitelist = Lazy.listValue({ produce: () => [...this.requestableScopes] });
    // Client credentials act without a human: never hand them a privileged (consent-gated) scope.
    const agentScopeWhitelist = Lazy.listValue({
      produce: () => [...this.allowedScopes].filter((s) => !this.privilegedScopes.has(s)).sort(),
    });
    this.userRule = new AuthServerPolicyRule(this, "UserRule", {
      authServerId: this.authServerId,
      policyId: this.policy.id,
      name: "users",
      priority: 1,
      grantTypeWhitelist: ["authorization_code", ...(this.tokenExchange ? [TOKEN_EXCHANGE_GRANT] : [])],
      groupWhitelist: [groupId],
      scopeWhitelist,
      accessTokenLifetimeMinutes: accessMinutes,
      refreshTokenLifetimeMinutes: refreshMinutes,
    });
    this.agentRule = new AuthServerPolicyRule(this, "AgentRule", {
      authServerId: this.authServerId,
      policyId: this.policy.id,
      name: "agents",
      priority: 2,
      grantTypeWhitelist: ["client_credentials"],
      groupWhitelist: ["EVERYONE"],
      scopeWhitelist: agentScopeWhitelist,
      accessTokenLifetimeMinutes: accessMinutes,
    });

    this.node.addValidation({ validate: () => this.checkProps(accessMinutes, refreshMinutes) });
  }

  public allowScopes(
    names: readonly string[],
    dependencies: readonly ITerraformDependable[] = [],
    privileged: readonly string[] = [],
  ): void {
    for (const name of names) this.allowedScopes.add(name);
    for (const name of privileged) this.privilegedScopes.add(name);
    for (const rule of [this.userRule, this.agentRule]) {
      rule.dependsOn = [...(rule.dependsOn ?? []), ...dependencies.map((d) => dependable(d))];
    }
  }

  /** Scope names the access policy lets clients request, OIDC scopes included. */
  public get requestableScopes(): readonly string[] {
    return [...OIDC_SCOPES, ...[...this.allowedScopes].sort()];
  }

  private checkProps(accessMinutes: number, refreshMinutes: number): string[] {
    const errors: string[] = [];
    if (this.redirectUris.length === 0)
      errors.push("OktaApps.userApp.redirectUris: at least one exact redirect URI is required");
    for (const uri of this.redirectUris) {
      const problem = redirectUriProblem(uri);
      if (problem) errors.push(`OktaApps.userApp.redirectUris: ${JSON.stringify(uri)} ${problem}`);
    }
    if (!Number.isInteger(accessMinutes) || accessMinutes < 5 || accessMinutes > 1440) {
      errors.push(`OktaApps.accessTokenLifetimeMinutes: expected 5–1440 (Okta's range), got ${accessMinutes}`);
    }
    if (!Number.isInteger(refreshMinutes) || refreshMinutes < accessMinutes) {
      errors.push(
        `OktaApps.refreshTokenLifetimeMinutes: expected an integer ≥ the access token lifetime, got ${refreshMinutes}`,
      );
    }
    return errors;
  }
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Why a redirect URI is unsafe, or undefined when it is fine. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.includes("*")) return "is a wildcard: list each exact redirect URI";
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return "is not an absolute URL";
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname)) return undefined;
  return "must use https (http only on a loopback host)";
}
