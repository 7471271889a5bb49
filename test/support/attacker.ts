/**
 * Tokens an attacker can make without the issuer's private key: unsigned, HMAC-signed with the issuer's
 * public key, signed with the attacker's own key (with or without a `kid` the issuer uses), oversized.
 */
import { createHmac, createPublicKey } from "node:crypto";
import { type JWK, SignJWT, generateKeyPair } from "jose";

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** `alg: none`, no signature. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}

/** HS256 with the issuer's RSA public key (PEM) as the HMAC secret: the classic algorithm confusion. */
export function hs256WithPublicKey(claims: Record<string, unknown>, publicJwk: JWK): string {
  const pem = createPublicKey({ key: publicJwk as import("node:crypto").JsonWebKey, format: "jwk" })
    .export({ type: "spki", format: "pem" })
    .toString();
  const input = `${b64({ alg: "HS256", typ: "JWT", kid: publicJwk.kid })}.${b64(claims)}`;
  return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
}

/** Signed with a fresh key the attacker holds; `kid` may impersonate one the issuer publishes. */
export async function attackerSignedToken(claims: Record<string, unknown>, kid: string): Promise<string> {
  const { privateKey } = await generateKeyPair("RS256");
  return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).sign(privateKey);
}

/** Claims that would be valid for the gateway, for `sub`, now. */
export function plausibleClaims(
  issuer: string,
  audience: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    aud: audience,
    sub: "alice",
    cid: "agent",
    scp: ["mcp:read"],
    iat: now,
    exp: now + 300,
    ...extra,
  };
}
