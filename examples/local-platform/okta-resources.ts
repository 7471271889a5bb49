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

  const rules = Object.values(resources.okta_auth_server_policy_rule ?? {}).map((r) => ({
    grants: strings(r.grant_type_whitelist),
    scopes: strings(r.scope_whitelist),
    lifetime: typeof r.access_token_lifetime_minutes === "number" ? r.access_token_lifetime_minutes : undefined,
  }));
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
    const matching = rules.filter((r) => r.grants.some((g) => own.includes(g)));
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
    };
  });
  if (clients.length === 0)
    throw new Error("cdk.tf.json declares no okta_app_oauth: the local platform needs at least one client (OktaApps)");
  return { audiences, scopes, clients, accessTokenLifetimeMinutes: lifetime };
}

/** The first client allowed the client-credentials grant (the agent service), if any. */
export function serviceClient(config: OktaConfig): LocalClient | undefined {
  return config.clients.find((c) => c.grantTypes.includes("client_credentials"));
}

/** The first client allowed the authorization-code grant (users signing in), if any. */
export function userClient(config: OktaConfig): LocalClient | undefined {
  return config.clients.find((c) => c.grantTypes.includes("authorization_code"));
}
