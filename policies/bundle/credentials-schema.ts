/** The credentials the gateway presents to an MCP upstream (`mcp.upstreams[].credentials`). */
import { z } from "zod";
import { type BundleMode, SecretRefSchema, applyTimeField, text, url } from "./fields.js";

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
    z.strictObject({
      mode: z.literal("client-credentials"),
      tokenUrl: applyTime(url()),
      clientId: applyTime(text()),
      clientSecret: SecretRefSchema,
      scopes: z.array(text()).default([]),
      audience: applyTime(text()).optional(),
    }),
    z.strictObject({
      /** RFC 8693: the user's token is exchanged for one the upstream accepts (sub = user, act = agent). */
      mode: z.literal("token-exchange"),
      tokenUrl: applyTime(url()),
      clientId: applyTime(text()),
      clientSecret: SecretRefSchema.optional(),
      audience: applyTime(text()),
      scopes: z.array(text()).default([]),
    }),
  ]);
}
