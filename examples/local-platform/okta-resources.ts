/**
 * Reads the Okta side of a synthesized stack (`cdk.tf.json`) into the configuration of the local
 * authorization server, so the stand-in issues exactly the scopes and grant types that `OktaApps` and
 * `McpScopes` declare. Pure: takes the parsed JSON, returns data.
 */
import { OIDC_SCOPES, TOKEN_EXCHANGE_GRANT } from "../../policies/oauth/index.js";

/** One `okta_app_oauth` resource, as the local server will register it. */
export interface LocalClient {
  /** Terraform resource name (`okta_app_oauth.<name>`). */
  readonly resourceName: string;
  /** Client id used locally: the app's label as a slug, e.g. `tollgate-dev-agents` (Okta generates ids at apply time). */
  readonly clientId: string;
  /** `service` (machine to machine), `web`, `native` or `browser`. */
  readonly type: string;
  readonly grantTypes: readonly string[];
  readonly redirectUris: readonly string[];
  readonly pkceRequired: boolean;
  /** `none` for public clients, otherwise the client authenticates (locally with a generated secret). */
  readonly tokenEndpointAuthMethod: string;
  /** Scopes the policy rules allow this client to request. */
  readonly scopes: readonly string[];
  /** The `Agent` this app belongs to (its access policy is `<stack>-agent-<id>`); undefined for OktaApps' apps. */
  readonly agentId?: string;
}

export interface LocalScope {
  readonly name: string;
  /** `REQUIRED` for privileged scopes (explicit consent), `IMPLICIT` otherwise. */
  readonly consent: string;
}

export interface OktaConfig {
  /** Audiences of the custom authorization server as synthesized (may hold Terraform references). */
  readonly audiences: readonly string[];
  readonly scopes: readonly LocalScope[];
  readonly clients: readonly LocalClient[];
  /** Access token lifetime from the policy rule, in minutes, when declared. */
  readonly accessTokenLifetimeMinutes: number | undefined;
}

type Resources = Record<string, Record<string, Record<string, unknown>>>;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** `tollgate-dev (agents)` → `tollgate-dev-agents`: a client id a user can type. */
export function slug(label: string): string {
  return (
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "client"
  );
}

/** An `Agent`'s access policy: `<stack>-agent-<id>` (constructs/agent.ts). */
const AGENT_POLICY = /-agent-([a-z][a-z0-9-]{0,15})$/;

/** `okta_app_oauth.X` of `${okta_app_oauth.X.client_id}`; the value itself when it is no such reference. */
function referencedName(value: string, type: string): string {
  const match = /^\$\{([a-z0-9_]+)\.([^.}]+)\.[a-z_]+\}$/.exec(value);
  return match && match[1] === type ? match[2]! : value;
}

function isReference(value: string): boolean {
  return value.includes("${");
}

/** Extracts the local authorization server configuration from a synthesized `cdk.tf.json`. */
export function readOktaConfig(cdkTfJson: unknown): OktaConfig {
  const resources = ((cdkTfJson as { resource?: Resources } | null)?.resource ?? {}) as Resources;
  const servers = Object.values(resources.okta_auth_server ?? {});
  if (servers.length === 0) {
    throw new Error(
      "cdk.tf.json declares no okta_auth_server: the local platform needs the stack's Okta authorization server (OktaApps)",
    );
  }
  const audiences = servers.flatMap((s) => strings(s.audiences));
  const scopes: LocalScope[] = Object.values(resources.okta_auth_server_scope ?? {})
    .filter((s) => typeof s.name === "string")
    .map((s) => ({ name: s.name as string, consent: typeof s.consent === "string" ? s.consent : "IMPLICIT" }));
  const declaredScopes = scopes.map((s) => s.name);

  const policies = resources.okta_auth_server_policy ?? {};
  /** The app resource names a policy applies to; undefined when it cannot tell (applies to every app). */
  const appsOfPolicy = (policyRef: unknown): string[] | undefined => {
    const policy =
      typeof policyRef === "string" ? policies[referencedName(policyRef, "okta_auth_server_policy")] : undefined;
    const whitelist = strings(policy?.client_whitelist);
    if (!policy || whitelist.includes("ALL_CLIENTS")) return undefined;
    return whitelist.map((entry) => referencedName(entry, "okta_app_oauth"));
  };
  const rules = Object.values(resources.okta_auth_server_policy_rule ?? {}).map((r) => ({
    grants: strings(r.grant_type_whitelist),
    scopes: strings(r.scope_whitelist),
    apps: appsOfPolicy(r.policy_id),
    lifetime: typeof r.access_token_lifetime_minutes === "number" ? r.access_token_lifetime_minutes : undefined,
  }));
  const agentOfApp = new Map<string, string>();
  for (const policy of Object.values(policies)) {
    const agentId = typeof policy.name === "string" ? AGENT_POLICY.exec(policy.name)?.[1] : undefined;
    const [app, ...others] = strings(policy.client_whitelist).map((e) => referencedName(e, "okta_app_oauth"));
    if (agentId && app && others.length === 0) agentOfApp.set(app, agentId);
  }
  const everyScope = [...OIDC_SCOPES, ...declaredScopes];
  const ruleGrants = new Set(rules.flatMap((r) => r.grants));
  const lifetime = rules.map((r) => r.lifetime).find((v) => v !== undefined);

  const clients: LocalClient[] = Object.entries(resources.okta_app_oauth ?? {}).map(([resourceName, app]) => {
    const label = typeof app.label === "string" && !isReference(app.label) ? slug(app.label) : slug(resourceName);
    const grantTypes = strings(app.grant_types).filter(
      (g) => ruleGrants.size === 0 || ruleGrants.has(g) || g === "refresh_token",
    );
    // Okta picks the policy rule by grant type. Token exchange only narrows the subject token's scopes,
    // so a client's requestable scopes come from the rules of its other grants.
    const own = grantTypes.filter((g) => g !== TOKEN_EXCHANGE_GRANT && g !== "refresh_token");
    const matching = rules.filter(
      (r) => (r.apps === undefined || r.apps.includes(resourceName)) && r.grants.some((g) => own.includes(g)),
    );
    const allowed =
      rules.length === 0 ? everyScope : matching.flatMap((r) => (r.scopes.includes("*") ? everyScope : r.scopes));
    return {
      resourceName,
      clientId: label,
      type: typeof app.type === "string" ? app.type : "web",
      grantTypes,
      redirectUris: strings(app.redirect_uris),
      pkceRequired: app.pkce_required === true,
      tokenEndpointAuthMethod:
        typeof app.token_endpoint_auth_method === "string" ? app.token_endpoint_auth_method : "client_secret_basic",
      scopes: [...new Set(allowed)].filter((s) => !isReference(s)),
      ...(agentOfApp.has(resourceName) ? { agentId: agentOfApp.get(resourceName) } : {}),
    };
  });
  if (clients.length === 0)
    throw new Error("cdk.tf.json declares no okta_app_oauth: the local platform needs at least one client (OktaApps)");
  return { audiences, scopes, clients, accessTokenLifetimeMinutes: lifetime };
}

/** OktaApps' agent app (client credentials, not an `Agent`'s own), else the first client allowed the grant. */
export function serviceClient(config: OktaConfig): LocalClient | undefined {
  const service = config.clients.filter((c) => c.grantTypes.includes("client_credentials"));
  return service.find((c) => c.agentId === undefined) ?? service[0];
}

/** The apps of the stack's `Agent`s, by agent id. */
export function agentClients(config: OktaConfig): LocalClient[] {
  return config.clients.filter((c) => c.agentId !== undefined);
}

/** The first client allowed the authorization-code grant (users signing in), if any. */
export function userClient(config: OktaConfig): LocalClient | undefined {
  return config.clients.find((c) => c.grantTypes.includes("authorization_code"));
}
