/**
 * The credentials the gateway presents to an MCP upstream (`mcp.upstreams[].credentials`).
 *
 * The OAuth modes authenticate the gateway's own client at the token endpoint in one of two ways:
 * `clientSecret` (client_secret_basic) or `privateKeyJwt` (RFC 7523 client assertion signed with a
 * private key whose public half is registered on the client). Never both.
 */
import { z } from "zod";
import { type BundleMode, SecretRefSchema, applyTimeField, text, url } from "./fields.js";

/** Signing algorithms the gateway uses for client assertions (those Okta accepts for `private_key_jwt`). */
export const CLIENT_ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"] as const;
export type ClientAssertionAlgorithm = (typeof CLIENT_ASSERTION_ALGORITHMS)[number];

/** `private_key_jwt`: the gateway signs a short-lived assertion per token request with this key. */
export const PrivateKeyJwtSchema = z.strictObject({
  /** The private key: a JWK (what `tollgate keygen` writes) or PKCS#8 PEM. */
  privateKey: SecretRefSchema,
  /** `kid` of the assertion's header. @default the private JWK's `kid` */
  keyId: text().optional(),
  /** @default the private JWK's `alg`, else RS256 for an RSA key, ES256 for P-256, ES384 for P-384, ES512 for P-521 */
  algorithm: z
    .enum(CLIENT_ASSERTION_ALGORITHMS, {
      error: `expected one of ${CLIENT_ASSERTION_ALGORITHMS.join(", ")} (the algorithms Okta accepts for private_key_jwt)`,
    })
    .optional(),
});
export type PrivateKeyJwt = z.infer<typeof PrivateKeyJwtSchema>;

const BOTH =
  "set clientSecret or privateKeyJwt, not both: the client authenticates with one method (OktaApps: agentApp.clientAuth)";

export function upstreamCredentialsSchema(mode: BundleMode) {
  const applyTime = applyTimeField(mode);
  return z.discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("none") }),
    z.strictObject({
      mode: z.literal("secret-header"),
      header: text().regex(/^[A-Za-z0-9-]+$/),
      value: SecretRefSchema,
      /** Prepended to the secret, e.g. `Bearer `. */
      prefix: z.string().default(""),
    }),
    z
      .strictObject({
        mode: z.literal("client-credentials"),
        tokenUrl: applyTime(url()),
        clientId: applyTime(text()),
        /** client_secret_basic. Exactly one of clientSecret and privateKeyJwt. */
        clientSecret: SecretRefSchema.optional(),
        /** RFC 7523 private_key_jwt. Exactly one of clientSecret and privateKeyJwt. */
        privateKeyJwt: PrivateKeyJwtSchema.optional(),
        scopes: z.array(text()).default([]),
        audience: applyTime(text()).optional(),
      })
      .superRefine((value, ctx) => {
        if (value.clientSecret && value.privateKeyJwt)
          ctx.addIssue({ code: "custom", path: ["privateKeyJwt"], message: BOTH });
        if (!value.clientSecret && !value.privateKeyJwt)
          ctx.addIssue({
            code: "custom",
            path: ["privateKeyJwt"],
            message:
              'client credentials need the client to authenticate: set privateKeyJwt: { privateKey: { env: "NAME" } } (preferred) or clientSecret: { env: "NAME" }',
          });
      }),
    z
      .strictObject({
        /** RFC 8693: the user's token is exchanged for one the upstream accepts (sub = user, act = agent). */
        mode: z.literal("token-exchange"),
        tokenUrl: applyTime(url()),
        clientId: applyTime(text()),
        /** client_secret_basic. With neither this nor privateKeyJwt the client is public (client_id only). */
        clientSecret: SecretRefSchema.optional(),
        /** RFC 7523 private_key_jwt. */
        privateKeyJwt: PrivateKeyJwtSchema.optional(),
        audience: applyTime(text()),
        scopes: z.array(text()).default([]),
      })
      .superRefine((value, ctx) => {
        if (value.clientSecret && value.privateKeyJwt)
          ctx.addIssue({ code: "custom", path: ["privateKeyJwt"], message: BOTH });
      }),
  ]);
}
