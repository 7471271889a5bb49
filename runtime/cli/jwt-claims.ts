/** The claims of a compact JWT, decoded without verifying it (the gateway, or `explain --token`, verifies). */
export function decodeClaims(token: string): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) throw new Error("not a compact JWT (header.payload.signature)");
  const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")) as unknown;
  if (claims === null || typeof claims !== "object" || Array.isArray(claims))
    throw new Error("the JWT payload is not a JSON object of claims");
  return claims as Record<string, unknown>;
}
