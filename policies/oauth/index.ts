/**
 * OAuth and OIDC names both sides must spell the same way: the constructs configure Okta with them, the
 * runtime and the local platform speak them on the wire.
 */

/** RFC 8693 token exchange, as a `grant_type` value. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

/** RFC 8693 token type of an OAuth access token (`subject_token_type`, `requested_token_type`). */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** The OIDC scopes every Okta app may request besides the gateway's own (MCP) scopes. */
export const OIDC_SCOPES = ["openid", "profile", "email", "offline_access"] as const;

export type OidcScope = (typeof OIDC_SCOPES)[number];

/** Whether `scope` is an OIDC scope rather than one the gateway grants. */
export function isOidcScope(scope: string): scope is OidcScope {
  return (OIDC_SCOPES as readonly string[]).includes(scope);
}
