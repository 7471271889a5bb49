import { Construct } from "constructs";
import { AppGroupAssignment } from "@cdktf/provider-okta/lib/app-group-assignment/index.js";
import { AppOauth } from "@cdktf/provider-okta/lib/app-oauth/index.js";
import { AuthServer } from "@cdktf/provider-okta/lib/auth-server/index.js";
import { AuthServerPolicy } from "@cdktf/provider-okta/lib/auth-server-policy/index.js";
import { AuthServerPolicyRule } from "@cdktf/provider-okta/lib/auth-server-policy-rule/index.js";
import { Group } from "@cdktf/provider-okta/lib/group/index.js";
import { Annotations, type ITerraformDependable, Lazy, TerraformVariable, dependable } from "cdktf";
import { OIDC_SCOPES, TOKEN_EXCHANGE_GRANT } from "../policies/oauth/index.js";
import {
  type AllowedScopesListener,
  type AuthorizationServerAttributes,
  ImportedAuthorizationServer,
  ImportedOAuthClients,
  type OAuthClientAttributes,
  absoluteUrlProblem,
  issuerEndpoints,
} from "./imported-okta.js";
import { type PublicJwk, jwksBlock, publicJwksVariable, registerKeysFrom } from "./okta-keys.js";

export type { PublicJwk };
import type { AgentClientAuthentication, IAuthorizationServer, IOAuthClients } from "./refs.js";

export { TOKEN_EXCHANGE_GRANT };

/**
 * An authorization server that already exists in the Okta org.
 * @deprecated use `authServer: OktaApps.fromAuthServerId(...)`, which can check the server at plan
 */
export interface ExistingAuthorizationServer {
  /** Its id (`aus...`). */
  readonly id: string;
  /** Its issuer, exactly as tokens carry it (e.g. `https://example.okta.com/oauth2/aus...`). */
  readonly issuer: string;
}

/** An access policy Tollgate adds to an authorization server it did not create. */
export interface AccessPolicyProps {
  /**
   * The policy's priority among the server's access policies (1 is evaluated first). Okta applies the first
   * policy that matches the client, so choose one that does not pre-empt your own policies.
   */
  readonly priority: number;
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

/** How the agent app authenticates at Okta's token endpoint (the gateway uses the app's client id upstream). */
export type AgentAppClientAuth =
  | {
      /**
       * RFC 7523: the gateway signs each token request with a private key; Okta holds only the public keys.
       * Nothing secret exists in Okta, in Terraform state or in the bundle, and a fresh environment comes up in
       * one apply: `tollgate keygen` → public key into the variable below, private key into the gateway's
       * Secret (`<gateway>_<privateKeyEnv lower-cased>`, an ephemeral variable written through `data_wo`).
       */
      readonly method: "private_key_jwt";
      /**
       * The public keys registered on the app (two while a key is rotated). Omitted, they are read at plan from the
       * non-sensitive Terraform variable `<name>_agent_public_jwks` (`OktaApps.agentPublicJwks`): a JWK or a JWKS
       * (`{"keys": [...]}`) as JSON, e.g. `TF_VAR_tollgate_dev_agent_public_jwks="$(cat agent.public.jwk.json)"`,
       * so no one's key is committed and each environment has its own. The plan refuses anything but public RSA or
       * EC keys with a `kid`.
       * @default the variable
       */
      readonly publicJwks?: readonly PublicJwk[];
      /**
       * Gateway environment variable (a key of its Secret) that holds the private JWK or PKCS#8 PEM.
       * @default "OKTA_AGENT_PRIVATE_KEY"
       */
      readonly privateKeyEnv?: string;
    }
  | {
      /**
       * client_secret_basic, for an app that already works this way. Okta generates the secret at the first apply
       * and Terraform never stores it (`omit_secret`), so the operator copies it from Okta's console into the
       * gateway's Secret and applies again.
       */
      readonly method: "client_secret";
      /**
       * Gateway environment variable (a key of its Secret) that holds the secret.
       * @default "OKTA_AGENT_CLIENT_SECRET"
       */
      readonly secretEnv?: string;
    };

export interface AgentAppProps {
  /** @default `${name} (agents)` */
  readonly label?: string;
  /**
   * How the app authenticates at the token endpoint.
   * @default { method: "private_key_jwt" }: public keys from the variable `<name>_agent_public_jwks`
   */
  readonly clientAuth?: AgentAppClientAuth;
  /**
   * @deprecated use `clientAuth: { method: "private_key_jwt", publicJwks }`
   */
  readonly publicJwks?: readonly PublicJwk[];
  /**
   * Let the agent exchange a user's token for one on the user's behalf (RFC 8693).
   * @default true
   */
  readonly tokenExchange?: boolean;
}

interface OktaAppsCommonProps {
  /** Prefix for Okta object names, e.g. `tollgate-dev`. */
  readonly name: string;
  readonly userApp: UserAppProps;
  /** @default a service app with client credentials and token exchange */
  readonly agentApp?: AgentAppProps;
  /**
   * Okta group whose members may sign in. Pass `{ existingGroupId }` to use one you manage.
   * @default a new group `${name}-users`
   */
  readonly userGroup?: { readonly existingGroupId: string } | { readonly name: string };
  /**
   * Access token lifetime in the access policy's rules (no effect without an access policy).
   * @default 60
   */
  readonly accessTokenLifetimeMinutes?: number;
  /**
   * Refresh token lifetime in the access policy's user rule (no effect without an access policy).
   * @default 1440
   */
  readonly refreshTokenLifetimeMinutes?: number;
  /**
   * Environment variable (in the gateway) that holds the agent app's client secret. Setting it opts the agent app
   * into a client secret.
   * @deprecated use `agentApp: { clientAuth: { method: "client_secret", secretEnv } }`
   */
  readonly agentClientSecretEnv?: string;
}

/** The apps on a dedicated authorization server that Tollgate creates, with its access policy at priority 1. */
export interface OktaAppsOnNewServerProps extends OktaAppsCommonProps {
  /**
   * The gateway's public URL: the audience of every access token (Okta ignores RFC 8707). This is where it
   * is declared: the gateway, its bundle and the agent runtime read it from `OktaApps.audience`.
   */
  readonly gatewayUri: string;
  readonly authServer?: undefined;
  readonly existingAuthServer?: undefined;
  readonly accessPolicy?: undefined;
}

/** The apps on an authorization server that already exists (`OktaApps.fromAuthServerId`). */
export interface OktaAppsOnExistingServerProps extends OktaAppsCommonProps {
  /** The existing server; its `audience` is the gateway's public URL. */
  readonly authServer: IAuthorizationServer;
  readonly gatewayUri?: undefined;
  readonly existingAuthServer?: undefined;
  /**
   * Add an access policy for the apps, at the priority you choose. Tollgate adds nothing to a server it did
   * not create unless asked.
   * @default none: one of your own policies must let the apps request the MCP scopes
   */
  readonly accessPolicy?: AccessPolicyProps;
}

/** @deprecated use `OktaAppsOnExistingServerProps` (`authServer: OktaApps.fromAuthServerId(...)`) */
export interface OktaAppsOnExistingServerLegacyProps extends OktaAppsCommonProps {
  /** The gateway's canonical URI; must be one of the existing server's audiences (not checked). */
  readonly gatewayUri: string;
  /** @deprecated use `authServer: OktaApps.fromAuthServerId(...)` */
  readonly existingAuthServer: ExistingAuthorizationServer;
  readonly authServer?: undefined;
  /** @default none: Tollgate adds nothing to the existing server */
  readonly accessPolicy?: AccessPolicyProps;
}

export type OktaAppsProps =
  OktaAppsOnNewServerProps | OktaAppsOnExistingServerProps | OktaAppsOnExistingServerLegacyProps;

/**
 * The Okta side of an environment: a user-facing app (authorization code + PKCE, exact redirects), an agent
 * service app (client credentials + token exchange, authenticated with `private_key_jwt`: no secret anywhere,
 * one apply brings it up; see `AgentAppClientAuth`), the group allowed to sign in, and either a dedicated custom authorization server whose audience is the gateway (with its access
 * policy) or an existing server (`authServer`), to which it adds an access policy only with `accessPolicy`.
 *
 * To reuse what exists: `OktaApps.fromAuthServerId` (a server), `OktaApps.fromClientIds` (apps).
 */
export class OktaApps extends Construct implements IAuthorizationServer, IOAuthClients {
  /**
   * An authorization server that already exists. Nothing is created on it; with `name`, Terraform reads it
   * at plan and fails unless its id is `authServerId` and `audience` (the gateway's public URL) is one of its
   * audiences.
   */
  public static fromAuthServerId(
    scope: Construct,
    id: string,
    attrs: AuthorizationServerAttributes,
  ): IAuthorizationServer {
    return new ImportedAuthorizationServer(scope, id, attrs);
  }

  /** OAuth apps that already exist, by client id. Nothing is created. */
  public static fromClientIds(scope: Construct, id: string, attrs: OAuthClientAttributes): IOAuthClients {
    return new ImportedOAuthClients(scope, id, attrs);
  }

  public readonly authServerId: string;
  public readonly issuer: string;
  public readonly discoveryUrl: string;
  public readonly jwksUri: string;
  public readonly tokenUrl: string;
  /** The gateway's public URL (token audience). */
  public readonly audience: string;
  public readonly userClientId: string;
  public readonly agentClientId: string;
  public readonly agentClientSecretEnv: string | undefined;
  public readonly agentClientAuth: AgentClientAuthentication;
  /**
   * The variable holding the agent app's public keys (`private_key_jwt` without literal `publicJwks`), named
   * `<name>_agent_public_jwks`.
   */
  public readonly agentPublicJwks: TerraformVariable | undefined;
  /** The Terraform resources, for attribute-level customisation. */
  public readonly userApp: AppOauth;
  public readonly agentApp: AppOauth;
  /** The access policy and its rules; undefined on an existing server without `accessPolicy`. */
  public readonly policy: AuthServerPolicy | undefined;
  public readonly userRule: AuthServerPolicyRule | undefined;
  public readonly agentRule: AuthServerPolicyRule | undefined;
  /** Redirect URIs as given. */
  public readonly redirectUris: readonly string[];
  /** Whether the agent app may use the token-exchange grant. */
  public readonly tokenExchange: boolean;

  private readonly allowedScopes = new Set<string>();
  private readonly privilegedScopes = new Set<string>();
  /** Where `allowScopes` goes: straight to the policy, or through an imported server that tells this. */
  private readonly allowScopesVia: AllowedScopesListener;

  constructor(scope: Construct, id: string, props: OktaAppsProps) {
    super(scope, id);
    this.redirectUris = props.userApp.redirectUris;
    this.tokenExchange = props.agentApp?.tokenExchange ?? true;
    const accessMinutes = props.accessTokenLifetimeMinutes ?? 60;
    const refreshMinutes = props.refreshTokenLifetimeMinutes ?? 1440;
    const errors = propsProblems(props, accessMinutes, refreshMinutes);
    if (errors.length > 0) throw new Error(errors.map((e) => `${this.node.path}: ${e}`).join("\n"));

    const where = serverOf(this, props);
    const server = "server" in where ? where.server : undefined;
    if ("server" in where) {
      this.authServerId = where.server.authServerId;
      this.issuer = where.server.issuer;
      this.audience = where.server.audience;
    } else {
      const created = new AuthServer(this, "AuthServer", {
        name: props.name,
        description: `Tokens for the Tollgate gateway ${where.gatewayUri}`,
        audiences: [where.gatewayUri],
        issuerMode: "ORG_URL",
      });
      this.authServerId = created.id;
      this.issuer = created.issuer;
      this.audience = where.gatewayUri;
    }
    const endpoints = issuerEndpoints(this.issuer);
    this.discoveryUrl = endpoints.discoveryUrl;
    this.jwksUri = endpoints.jwksUri;
    this.tokenUrl = endpoints.tokenUrl;

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

    const auth = agentClientAuthOf(props);
    this.agentClientAuth =
      auth.method === "private_key_jwt" ? { method: auth.method, privateKeyEnv: auth.privateKeyEnv } : auth;
    this.agentClientSecretEnv = auth.method === "client_secret" ? auth.secretEnv : undefined;
    const jwks = auth.method === "private_key_jwt" ? auth.publicJwks : undefined;
    this.agentPublicJwks =
      auth.method === "private_key_jwt" && !jwks
        ? publicJwksVariable(
            this,
            "AgentPublicJwks",
            `${props.name}_agent_public_jwks`,
            `the Okta agent app "${props.name}"`,
          )
        : undefined;
    this.agentApp = new AppOauth(this, "AgentApp", {
      label: props.agentApp?.label ?? `${props.name} (agents)`,
      type: "service",
      grantTypes: ["client_credentials", ...(this.tokenExchange ? [TOKEN_EXCHANGE_GRANT] : [])],
      responseTypes: ["token"],
      ...(auth.method === "private_key_jwt"
        ? { tokenEndpointAuthMethod: "private_key_jwt", ...(jwks ? { jwks: jwks.map(jwksBlock) } : {}) }
        : { tokenEndpointAuthMethod: "client_secret_basic", omitSecret: true }),
    });
    if (this.agentPublicJwks) registerKeysFrom(this.agentApp, this.agentPublicJwks);
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

    const record: AllowedScopesListener = (names, dependencies, privileged) =>
      this.recordScopes(names, dependencies, privileged);
    if (server && isScopeNotifier(server)) {
      server.onScopesAllowed(record);
      this.allowScopesVia = (names, dependencies, privileged) => server.allowScopes(names, dependencies, privileged);
    } else if (server) {
      this.allowScopesVia = (names, dependencies, privileged) => {
        record(names, dependencies, privileged);
        server.allowScopes(names, dependencies, privileged);
      };
    } else {
      this.allowScopesVia = record;
    }

    const priority = server ? props.accessPolicy?.priority : 1;
    if (priority === undefined) {
      this.policy = undefined;
      this.userRule = undefined;
      this.agentRule = undefined;
      Annotations.of(this).addInfo(
        "OktaApps: no access policy added to the existing authorization server (accessPolicy not set): one of your policies must let the user and agent apps request the MCP scopes",
      );
      return;
    }
    this.policy = new AuthServerPolicy(this, "Policy", {
      authServerId: this.authServerId,
      name: `${props.name}-gateway`,
      description: "Who may get tokens for the Tollgate gateway",
      priority,
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
  }

  /** Makes scopes requestable through the access policy (a no-op without one). */
  public allowScopes(
    names: readonly string[],
    dependencies: readonly ITerraformDependable[] = [],
    privileged: readonly string[] = [],
  ): void {
    this.allowScopesVia(names, dependencies, privileged);
  }

  /** Scope names the access policy lets clients request, OIDC scopes included. */
  public get requestableScopes(): readonly string[] {
    return [...OIDC_SCOPES, ...[...this.allowedScopes].sort()];
  }

  private recordScopes(
    names: readonly string[],
    dependencies: readonly ITerraformDependable[],
    privileged: readonly string[],
  ): void {
    for (const name of names) this.allowedScopes.add(name);
    for (const name of privileged) this.privilegedScopes.add(name);
    // The rules do not exist yet while the constructor replays an imported server's earlier scopes.
    for (const rule of [this.userRule, this.agentRule]) {
      if (rule) rule.dependsOn = [...(rule.dependsOn ?? []), ...dependencies.map((d) => dependable(d))];
    }
  }
}

type ResolvedAgentAuth = Exclude<AgentClientAuthentication, { method: "none" }> & {
  readonly publicJwks?: readonly PublicJwk[];
};

/** The agent app's client authentication from the props (the deprecated spellings included). */
function agentClientAuthOf(props: OktaAppsProps): ResolvedAgentAuth {
  const chosen = props.agentApp?.clientAuth;
  if (chosen?.method === "client_secret" || (!chosen && props.agentClientSecretEnv !== undefined))
    return {
      method: "client_secret",
      secretEnv:
        chosen?.method === "client_secret" && chosen.secretEnv
          ? chosen.secretEnv
          : (props.agentClientSecretEnv ?? "OKTA_AGENT_CLIENT_SECRET"),
    };
  const publicJwks = chosen?.publicJwks ?? props.agentApp?.publicJwks;
  return {
    method: "private_key_jwt",
    privateKeyEnv: chosen?.privateKeyEnv ?? "OKTA_AGENT_PRIVATE_KEY",
    ...(publicJwks ? { publicJwks } : {}),
  };
}

/** The existing server the apps use, or the gateway URL of the server they create. */
function serverOf(owner: Construct, props: OktaAppsProps): { server: IAuthorizationServer } | { gatewayUri: string } {
  if (props.authServer) return { server: props.authServer };
  if (!props.existingAuthServer) return { gatewayUri: props.gatewayUri };
  const server = new ImportedAuthorizationServer(owner, "ExistingAuthServer", {
    authServerId: props.existingAuthServer.id,
    issuer: props.existingAuthServer.issuer,
    audience: props.gatewayUri,
  });
  return { server };
}

function isScopeNotifier(
  server: IAuthorizationServer,
): server is IAuthorizationServer & Pick<ImportedAuthorizationServer, "onScopesAllowed"> {
  return typeof (server as Partial<ImportedAuthorizationServer>).onScopesAllowed === "function";
}

/** Every problem with the props, each naming the prop and the fix. */
function propsProblems(props: OktaAppsProps, accessMinutes: number, refreshMinutes: number): string[] {
  const errors: string[] = [];
  const given = [props.gatewayUri !== undefined && "gatewayUri", props.authServer !== undefined && "authServer"];
  if (given.every((g) => g === false))
    errors.push("OktaApps: set gatewayUri (a new authorization server) or authServer (OktaApps.fromAuthServerId)");
  if (given.every((g) => g !== false))
    errors.push(
      "OktaApps: set gatewayUri or authServer, not both: the existing server's audience is the gateway's URL",
    );
  if (props.gatewayUri !== undefined) {
    const problem = absoluteUrlProblem(props.gatewayUri);
    if (problem) errors.push(`OktaApps.gatewayUri: expected the gateway's public URL, ${problem}`);
  }
  if (props.accessPolicy !== undefined && !props.authServer && !props.existingAuthServer)
    errors.push("OktaApps.accessPolicy: only for an existing authorization server (authServer)");
  const priority = props.accessPolicy?.priority;
  if (priority !== undefined && (!Number.isInteger(priority) || priority < 1))
    errors.push(`OktaApps.accessPolicy.priority: expected an integer ≥ 1 (1 is evaluated first), got ${priority}`);
  const clientAuth = props.agentApp?.clientAuth;
  if (clientAuth && props.agentApp?.publicJwks)
    errors.push(
      "OktaApps.agentApp.publicJwks: set clientAuth.publicJwks instead (publicJwks is its deprecated spelling), not both",
    );
  if (clientAuth?.method === "private_key_jwt" && props.agentClientSecretEnv !== undefined)
    errors.push(
      'OktaApps.agentClientSecretEnv: the agent app uses private_key_jwt (agentApp.clientAuth): drop agentClientSecretEnv, or choose clientAuth: { method: "client_secret" }',
    );
  if (clientAuth?.method === "client_secret" && props.agentApp?.publicJwks)
    errors.push(
      "OktaApps.agentApp.publicJwks: the agent app uses a client secret (agentApp.clientAuth): drop publicJwks",
    );
  const envNames: [string, string | undefined][] = [
    [
      "agentApp.clientAuth.privateKeyEnv",
      clientAuth?.method === "private_key_jwt" ? clientAuth.privateKeyEnv : undefined,
    ],
    ["agentApp.clientAuth.secretEnv", clientAuth?.method === "client_secret" ? clientAuth.secretEnv : undefined],
    ["agentClientSecretEnv", props.agentClientSecretEnv],
  ];
  for (const [prop, value] of envNames)
    if (value !== undefined && !/^[A-Z_][A-Z0-9_]*$/.test(value))
      errors.push(
        `OktaApps.${prop}: expected an environment variable name (A-Z, 0-9, _), got ${JSON.stringify(value)}`,
      );
  const keys =
    (clientAuth?.method === "private_key_jwt" ? clientAuth.publicJwks : undefined) ?? props.agentApp?.publicJwks;
  if (keys?.length === 0)
    errors.push(
      "OktaApps.agentApp.clientAuth.publicJwks: at least one public key (tollgate keygen), or omit it to read the keys from the variable",
    );
  for (const key of keys ?? []) {
    if ("d" in key)
      errors.push(
        `OktaApps.agentApp.clientAuth.publicJwks: key ${JSON.stringify(key.kid)} holds a private key ("d"): register only the public key (stdout of tollgate keygen)`,
      );
  }
  if (props.userApp.redirectUris.length === 0)
    errors.push("OktaApps.userApp.redirectUris: at least one exact redirect URI is required");
  for (const uri of props.userApp.redirectUris) {
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
