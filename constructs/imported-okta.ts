/**
 * Okta objects a platform team already has, imported by reference (aws-cdk-lib's `fromXxx` convention):
 * nothing is created or changed in Okta. Where the Okta provider can read the object, a data source
 * with a Terraform postcondition fails the plan when the object is not what the gateway needs.
 * Reached through `OktaApps.fromAuthServerId`, `OktaApps.fromClientIds` and `McpScopes.fromScopeNames`.
 */
import { Construct } from "constructs";
import { DataOktaAuthServer } from "@cdktf/provider-okta/lib/data-okta-auth-server/index.js";
import { DataOktaAuthServerScopes } from "@cdktf/provider-okta/lib/data-okta-auth-server-scopes/index.js";
import { Annotations, Fn, type ITerraformDependable, Op, Token, ref } from "cdktf";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import type {
  AgentClientAuthentication,
  IAuthorizationServer,
  IMcpUpstream,
  IOAuthClients,
  IScopeSet,
  ScopeConsent,
  ToolDenyRecord,
  ToolGrantRecord,
} from "./refs.js";
import { ToolGrants } from "./tool-grants.js";

/** The OIDC endpoints under an issuer (Fn.join keeps a Terraform reference a single expression). */
export function issuerEndpoints(issuer: string): { discoveryUrl: string; jwksUri: string; tokenUrl: string } {
  const under = (suffix: string) => (Token.isUnresolved(issuer) ? Fn.join("", [issuer, suffix]) : `${issuer}${suffix}`);
  return {
    discoveryUrl: under("/.well-known/openid-configuration"),
    jwksUri: under("/v1/keys"),
    tokenUrl: under("/v1/token"),
  };
}

/** Why `name` cannot be a scope name, or undefined. */
export function scopeNameProblem(name: string): string | undefined {
  return /^[a-zA-Z0-9:._-]+$/.test(name)
    ? undefined
    : `${JSON.stringify(name)} must be letters, digits, ':', '.', '_' or '-'`;
}

interface AuthorizationServerIdentity {
  /** Its id (`aus...`). */
  readonly authServerId: string;
  /**
   * The gateway's public URL: the audience of the server's access tokens, and one of the server's audiences
   * in Okta. The gateway, its bundle and the agent runtime read it from here: this is where it is declared.
   */
  readonly audience: string;
}

/** An existing authorization server that Terraform reads at plan, to check it. */
export interface AuthorizationServerLookup extends AuthorizationServerIdentity {
  /**
   * Its name in Okta. The `okta_auth_server` data source finds servers by name; the plan then fails unless
   * the server found has id `authServerId` and lists `audience` among its audiences.
   */
  readonly name: string;
  /**
   * Its issuer, exactly as tokens carry it. When given, the plan also checks it.
   * @default the issuer Okta reports (known at plan)
   */
  readonly issuer?: string;
}

/** An existing authorization server that Terraform does not read: nothing checks its audience (a synth warning says so). */
export interface AuthorizationServerReference extends AuthorizationServerIdentity {
  readonly name?: undefined;
  /** Its issuer, exactly as tokens carry it (e.g. `https://example.okta.com/oauth2/aus...`). */
  readonly issuer: string;
}

/** What identifies an existing authorization server: prefer `AuthorizationServerLookup` (checked at plan). */
export type AuthorizationServerAttributes = AuthorizationServerLookup | AuthorizationServerReference;

/** Receives the scopes made requestable on an imported server (see `ImportedAuthorizationServer.onScopesAllowed`). */
export type AllowedScopesListener = (
  names: readonly string[],
  dependencies: readonly ITerraformDependable[],
  privileged: readonly string[],
) => void;

/**
 * An authorization server that exists in Okta. Tollgate adds nothing to it: `allowScopes` changes no
 * access policy (an `OktaApps` built on it adds one only with `accessPolicy: { priority }`).
 */
export class ImportedAuthorizationServer extends Construct implements IAuthorizationServer {
  public readonly authServerId: string;
  public readonly issuer: string;
  public readonly discoveryUrl: string;
  public readonly jwksUri: string;
  public readonly tokenUrl: string;
  public readonly audience: string;
  /** The data source that checks the server at plan, when `name` was given. */
  public readonly lookup: DataOktaAuthServer | undefined;
  private readonly allowed: Parameters<AllowedScopesListener>[] = [];
  private readonly listeners: AllowedScopesListener[] = [];

  public constructor(scope: Construct, id: string, attrs: AuthorizationServerAttributes) {
    super(scope, id);
    const api = "OktaApps.fromAuthServerId";
    requireText(this, api, "authServerId", attrs.authServerId, 'the server\'s id, e.g. "aus1a2b3c4d5e6f7g8h9"');
    requireUrl(this, api, "audience", attrs.audience, "the gateway's public URL");
    if (attrs.issuer !== undefined) requireUrl(this, api, "issuer", attrs.issuer, "the issuer its tokens carry");
    this.authServerId = attrs.authServerId;
    this.audience = attrs.audience;

    if (attrs.name !== undefined) {
      requireText(this, api, "name", attrs.name, "the server's name as Okta shows it");
      this.lookup = new DataOktaAuthServer(this, "Lookup", { name: attrs.name });
      this.lookup.lifecycle = { postcondition: this.postconditions(attrs) };
      this.issuer = attrs.issuer ?? this.lookup.issuer;
    } else {
      this.lookup = undefined;
      this.issuer = attrs.issuer;
      Annotations.of(this).addWarning(
        `${api}: the server's audiences are not checked at plan (Okta's data source finds servers by name): set name to have Terraform check that ${describeValue(attrs.audience)} is one of them`,
      );
    }
    const endpoints = issuerEndpoints(this.issuer);
    this.discoveryUrl = endpoints.discoveryUrl;
    this.jwksUri = endpoints.jwksUri;
    this.tokenUrl = endpoints.tokenUrl;
  }

  /** Records the scopes and tells the listeners (an `OktaApps` access policy on this server); changes nothing in Okta. */
  public allowScopes(
    names: readonly string[],
    dependencies: readonly ITerraformDependable[] = [],
    privileged: readonly string[] = [],
  ): void {
    this.allowed.push([names, dependencies, privileged]);
    for (const listener of this.listeners) listener(names, dependencies, privileged);
  }

  /** Calls `listener` for every `allowScopes` so far and every one to come. */
  public onScopesAllowed(listener: AllowedScopesListener): void {
    this.listeners.push(listener);
    for (const call of this.allowed) listener(...call);
  }

  private postconditions(attrs: AuthorizationServerLookup) {
    const where = `${this.node.path} (OktaApps.fromAuthServerId)`;
    return [
      {
        condition: Op.eq(ref("self.id"), attrs.authServerId),
        errorMessage: `${where}: the Okta authorization server named ${JSON.stringify(attrs.name)} does not have id ${describeValue(attrs.authServerId)}: fix authServerId or name.`,
      },
      {
        condition: Fn.contains(ref("self.audiences"), attrs.audience),
        errorMessage: `${where}: the Okta authorization server ${JSON.stringify(attrs.name)} does not list the gateway's URL ${describeValue(attrs.audience)} among its audiences, so the gateway would refuse its tokens: add that URL to the server's audiences in Okta, or set audience to the gateway's public URL.`,
      },
      ...(attrs.issuer !== undefined
        ? [
            {
              condition: Op.eq(ref("self.issuer"), attrs.issuer),
              errorMessage: `${where}: the Okta authorization server ${JSON.stringify(attrs.name)} issues tokens as another issuer than ${describeValue(attrs.issuer)}: fix issuer, or omit it to use the one Okta reports.`,
            },
          ]
        : []),
    ];
  }
}

export interface OAuthClientAttributes {
  /** Client id of the existing user-facing app (authorization code + PKCE). */
  readonly userClientId: string;
  /** Client id of the existing agent service app (client credentials, token exchange). */
  readonly agentClientId: string;
  /**
   * Environment variable (in the gateway) holding the private key (JWK or PKCS#8 PEM) of an agent app that
   * authenticates with `private_key_jwt`; its public key is registered on the app in Okta. Preferred over a secret.
   * @default none
   */
  readonly agentPrivateKeyEnv?: string;
  /**
   * Environment variable (in the gateway) holding the agent app's client secret, when the app authenticates with
   * one (an explicit opt-in for apps that already do). Needed by an AgentCore MCP gateway, which cannot sign.
   * @default none
   */
  readonly agentClientSecretEnv?: string;
}

/** OAuth apps that exist in Okta, by client id. Nothing is created or changed. */
export class ImportedOAuthClients extends Construct implements IOAuthClients {
  public readonly userClientId: string;
  public readonly agentClientId: string;
  public readonly agentClientSecretEnv: string | undefined;
  public readonly agentClientAuth: AgentClientAuthentication;

  public constructor(scope: Construct, id: string, attrs: OAuthClientAttributes) {
    super(scope, id);
    const api = "OktaApps.fromClientIds";
    requireText(this, api, "userClientId", attrs.userClientId, "the user app's client id (0oa...)");
    requireText(this, api, "agentClientId", attrs.agentClientId, "the agent app's client id (0oa...)");
    for (const prop of ["agentPrivateKeyEnv", "agentClientSecretEnv"] as const) {
      const value = attrs[prop];
      if (value !== undefined && !/^[A-Z_][A-Z0-9_]*$/.test(value))
        throw new Error(
          `${this.node.path}: ${api}.${prop}: expected an environment variable name (A-Z, 0-9, _), got ${JSON.stringify(value)}`,
        );
    }
    if (attrs.agentPrivateKeyEnv !== undefined && attrs.agentClientSecretEnv !== undefined)
      throw new Error(
        `${this.node.path}: ${api}: set agentPrivateKeyEnv or agentClientSecretEnv, not both: the agent app authenticates with one method (as configured in Okta)`,
      );
    this.userClientId = attrs.userClientId;
    this.agentClientId = attrs.agentClientId;
    this.agentClientSecretEnv = attrs.agentClientSecretEnv;
    this.agentClientAuth = attrs.agentPrivateKeyEnv
      ? { method: "private_key_jwt", privateKeyEnv: attrs.agentPrivateKeyEnv }
      : attrs.agentClientSecretEnv
        ? { method: "client_secret", secretEnv: attrs.agentClientSecretEnv }
        : { method: "none" };
  }
}

export interface ExistingScopesProps<S extends string = string> {
  /** The authorization server the scopes exist on. */
  readonly authServer: IAuthorizationServer;
  /**
   * Names of scopes that already exist on `authServer`. Tollgate creates none; the plan fails when one is
   * missing (`okta_auth_server_scopes` data source). Listed as literals, they are the only names
   * `grantTools` accepts.
   */
  readonly names: readonly S[];
  /**
   * The scopes only a human may grant: an access policy Tollgate adds never issues them to client credentials.
   * Their consent setting stays yours.
   * @default ["mcp:admin"] when it is one of `names`, else none
   */
  readonly privileged?: readonly NoInfer<S>[];
}

/** Scopes that exist on an authorization server; grants work as on `McpScopes`, nothing is created. */
export class ImportedScopeSet<S extends string = string> extends Construct implements IScopeSet<S> {
  public readonly names: readonly S[];
  public readonly privileged: readonly S[];
  /** Empty: the scopes' consent is managed outside Tollgate. */
  public readonly consent: Readonly<Record<string, ScopeConsent>> = {};
  /** The data source that checks at plan that every name exists. */
  public readonly lookup: DataOktaAuthServerScopes;
  private readonly toolGrants = new ToolGrants(this, "McpScopes.fromScopeNames");

  public constructor(scope: Construct, id: string, props: ExistingScopesProps<S>) {
    super(scope, id);
    markKind(this, "McpScopes");
    TollgateChecks.ensureOn(this);
    const api = "McpScopes.fromScopeNames";
    if (props.names.length === 0)
      throw new Error(`${this.node.path}: ${api}.names: list the existing scopes tools are granted on`);
    const seen = new Set<string>();
    for (const name of props.names) {
      const problem = seen.has(name) ? `${JSON.stringify(name)} is listed twice` : scopeNameProblem(name);
      if (problem) throw new Error(`${this.node.path}: ${api}.names: ${problem}`);
      seen.add(name);
    }
    for (const name of props.privileged ?? []) {
      if (!seen.has(name))
        throw new Error(
          `${this.node.path}: ${api}.privileged: ${JSON.stringify(name)} is not one of names (${props.names.join(", ")})`,
        );
    }
    this.names = [...props.names];
    this.privileged = props.privileged ? [...props.privileged] : this.names.filter((n) => n === "mcp:admin");
    this.lookup = new DataOktaAuthServerScopes(this, "Lookup", { authServerId: props.authServer.authServerId });
    const names = JSON.stringify(this.names);
    this.lookup.lifecycle = {
      postcondition: [
        {
          condition: `\${alltrue([for name in ${names} : contains(self.scopes[*].name, name)])}`,
          errorMessage: `${this.node.path} (${api}): scopes missing on the authorization server: \${join(", ", [for name in ${names} : name if !contains(self.scopes[*].name, name)])}. Create them in Okta, or remove them from names.`,
        },
      ],
    };
    props.authServer.allowScopes(this.names, [], this.privileged);
  }

  public grantTools(scopeName: S, upstream: IMcpUpstream, ...patterns: string[]): ToolGrantRecord {
    return this.toolGrants.grant(scopeName, upstream, patterns);
  }

  public denyTools(upstream: IMcpUpstream | "*", patterns: readonly string[], reason: string): ToolDenyRecord {
    return this.toolGrants.deny(upstream, patterns, reason);
  }

  public get grants(): readonly ToolGrantRecord[] {
    return this.toolGrants.grants;
  }

  public get denies(): readonly ToolDenyRecord[] {
    return this.toolGrants.denies;
  }
}

/** A value for a message: quoted when literal, described when it is known only at plan. */
function describeValue(value: string): string {
  return Token.isUnresolved(value) ? "(a Terraform value)" : JSON.stringify(value);
}

function requireText(owner: Construct, api: string, prop: string, value: unknown, what: string): void {
  if (typeof value !== "string" || value.trim().length === 0)
    throw new Error(`${owner.node.path}: ${api}.${prop}: expected ${what}, got ${JSON.stringify(value)}`);
}

/** A literal must be an absolute http(s) URL; a Terraform reference is checked at plan. */
function requireUrl(owner: Construct, api: string, prop: string, value: unknown, what: string): void {
  requireText(owner, api, prop, value, what);
  const problem = absoluteUrlProblem(String(value));
  if (problem) throw new Error(`${owner.node.path}: ${api}.${prop}: expected ${what}, ${problem}`);
}

/** Why `value` is not an absolute http(s) URL, or undefined (also for a Terraform reference, known later). */
export function absoluteUrlProblem(value: string): string | undefined {
  if (Token.isUnresolved(value)) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  return url?.protocol === "https:" || url?.protocol === "http:"
    ? undefined
    : `an absolute http(s) URL, got ${JSON.stringify(value)}`;
}
