/** The bundle's `auth` section: how the gateway verifies tokens. */
import { z } from "zod";
import { type BundleMode, applyTimeField, text, url } from "./fields.js";

/** Claim names and access-token checks of each token shape an issuer may use. */
export const TOKEN_PROFILES = {
  okta: { scopeClaim: "scp", clientClaims: ["cid"], requireAccessTokenType: false },
  rfc9068: { scopeClaim: "scope", clientClaims: ["client_id"], requireAccessTokenType: true },
} as const;
export type TokenProfile = keyof typeof TOKEN_PROFILES;

export function authSchema(mode: BundleMode) {
  const applyTime = applyTimeField(mode);
  return z
    .strictObject({
      /** Expected `iss`; also where discovery starts. */
      issuer: applyTime(url()),
      /** OIDC/OAuth discovery document. @default `${issuer}/.well-known/openid-configuration` */
      discoveryUrl: applyTime(url()).optional(),
      /** JWKS URL, when discovery is not used. */
      jwksUri: applyTime(url()).optional(),
      /**
       * Accepted `aud` values (Okta custom authorization server audience = the gateway URI). The protected
       * resource the gateway advertises (`protectedResource.resource`) is accepted as well.
       */
      audiences: z.array(applyTime(text())).min(1, { error: "at least one audience is required" }),
      /** Signature algorithms accepted; symmetric algorithms are never accepted. */
      algorithms: z
        .array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]))
        .min(1)
        .default(["RS256"]),
      /** Claims every token must carry, besides iss, aud, exp, iat. */
      requiredClaims: z.array(text()).default(["sub"]),
      /** Tolerated clock skew in seconds (for `exp`, `nbf` and an `iat` in the future). */
      clockSkewSeconds: z.int().min(0).max(300).default(30),
      /** Tokens longer than this are refused unread. */
      maxTokenBytes: z
        .int()
        .min(512)
        .max(64 * 1024)
        .default(8192),
      /**
       * Tokens issued (`iat`) longer ago than this are refused, and so are tokens whose lifetime
       * (`exp - iat`) is longer: `iat` is required. Okta's longest access token lifetime is one day.
       */
      maxTokenAgeSeconds: z.int().min(60).max(2_592_000).default(86_400),
      /**
       * Who shaped the tokens: `okta` (`scp` an array, `cid` the client, no `typ`) or `rfc9068` (JWT access
       * token profile: `scope` a space-separated string, `client_id` the client, `typ` `at+jwt`). Sets the
       * defaults of `scopeClaim`, `clientClaims` and `requireAccessTokenType`.
       */
      tokenProfile: z.enum(["okta", "rfc9068"]).default("okta"),
      /** Claim that carries scopes (array or space-separated string); only this one is read. @default by tokenProfile */
      scopeClaim: text().optional(),
      /** Claims that name the client (agent), first present wins. @default by tokenProfile */
      clientClaims: z.array(text()).min(1).optional(),
      /** Refuse tokens without the scope claim (ID tokens carry none). */
      requireScopeClaim: z.boolean().default(true),
      /** Refuse tokens whose `typ` is not `at+jwt` (RFC 9068 §4). @default true for rfc9068, false for okta */
      requireAccessTokenType: z.boolean().optional(),
      /** When set, only these client IDs are accepted. */
      allowedClients: z.array(applyTime(text())).optional(),
      /** Minimum seconds between JWKS refetches triggered by an unknown `kid`. */
      jwksCooldownSeconds: z.int().min(1).max(3600).default(30),
      /** How long fetched keys are trusted before a refresh (done in the background). */
      jwksCacheMaxAgeSeconds: z.int().min(30).max(86_400).default(600),
      /** Largest discovery document or JWKS read from the issuer, in bytes. */
      maxIssuerDocumentBytes: z
        .int()
        .min(4096)
        .max(4 * 1024 * 1024)
        .default(256 * 1024),
    })
    .transform(({ scopeClaim, clientClaims, requireAccessTokenType, ...auth }) => {
      const profile = TOKEN_PROFILES[auth.tokenProfile];
      return {
        ...auth,
        scopeClaim: scopeClaim ?? profile.scopeClaim,
        clientClaims: clientClaims ?? [...profile.clientClaims],
        requireAccessTokenType: requireAccessTokenType ?? profile.requireAccessTokenType,
      };
    });
}
