/**
 * Credentials the gateway presents to an upstream, per the upstream's `credentials.mode`:
 * - `none`: nothing.
 * - `secret-header`: a header whose value is a secret read through the config's SecretReader.
 * - `client-credentials`: the gateway's own OAuth token (client credentials grant), cached until shortly
 *   before it expires and shared by every session (it identifies the gateway, not a user).
 * - `token-exchange`: RFC 8693 — the verified user token is exchanged for a token for the upstream's
 *   audience (the authorization server puts the user in `sub` and the agent in `act`). Cached per user
 *   token. The inbound token itself is never sent upstream.
 * Token endpoint errors are reported without the response body (it may echo a credential).
 */
import { createHash } from "node:crypto";
import type { UpstreamCredentials } from "../../policies/bundle/index.js";
import type { SecretReader } from "../http/types.js";
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from "../../policies/oauth/index.js";

/** Headers for one upstream request. `userToken` is the caller's verified token (only token exchange reads it). */
export type CredentialSource = (userToken: string) => Promise<Record<string, string>>;

/** Refresh a cached token this many seconds before its `expires_in` runs out. */
const EXPIRY_MARGIN_SECONDS = 30;

interface CachedToken {
  readonly value: string;
  readonly expiresAtMs: number;
}

/** Caches tokens by key until shortly before expiry; one fetch in flight per key. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string, fetchToken: () => Promise<{ token: string; expiresInSeconds: number }>): Promise<string> {
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAtMs > this.now()) return cached.value;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const promise = fetchToken()
      .then(({ token, expiresInSeconds }) => {
        const lifetime = Math.max(0, expiresInSeconds - EXPIRY_MARGIN_SECONDS) * 1000;
        this.tokens.set(key, { value: token, expiresAtMs: this.now() + lifetime });
        this.prune();
        return token;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  private prune(): void {
    const now = this.now();
    for (const [key, token] of this.tokens) if (token.expiresAtMs <= now) this.tokens.delete(key);
  }
}

async function requestToken(
  tokenUrl: string,
  form: Record<string, string>,
  basicAuth?: { id: string; secret: string },
): Promise<{ token: string; expiresInSeconds: number }> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (basicAuth) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basicAuth.id)}:${encodeURIComponent(basicAuth.secret)}`).toString("base64")}`;
  }
  const response = await fetch(tokenUrl, {
    method: "POST",
    headers,
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(
      `token endpoint ${new URL(tokenUrl).origin} answered ${response.status} for grant ${form.grant_type}`,
    );
  }
  const body = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
  if (typeof body.access_token !== "string")
    throw new Error(`token endpoint ${new URL(tokenUrl).origin} returned no access_token`);
  return { token: body.access_token, expiresInSeconds: typeof body.expires_in === "number" ? body.expires_in : 300 };
}

function sha256(text: string): string {
  // The cache key must not hold the user token itself.
  return createHash("sha256").update(text).digest("hex");
}
/**
 * Builds the credential source of one upstream. Secrets are read here, once per session start.
 * @param cache shared by the whole gateway (client credentials) — token exchange keys by user token hash.
 */
export function credentialSource(
  upstreamId: string,
  credentials: UpstreamCredentials,
  secrets: SecretReader,
  cache: TokenCache,
): CredentialSource {
  switch (credentials.mode) {
    case "none":
      return async () => ({});
    case "secret-header": {
      const value = `${credentials.prefix}${secrets.read(credentials.value)}`;
      return async () => ({ [credentials.header]: value });
    }
    case "client-credentials": {
      const secret = secrets.read(credentials.clientSecret);
      const form: Record<string, string> = { grant_type: "client_credentials" };
      if (credentials.scopes.length > 0) form.scope = credentials.scopes.join(" ");
      if (credentials.audience) form.audience = credentials.audience;
      const key = `cc:${upstreamId}:${credentials.tokenUrl}:${credentials.clientId}`;
      return async () => {
        const token = await cache.get(key, () =>
          requestToken(credentials.tokenUrl, form, { id: credentials.clientId, secret }),
        );
        return { authorization: `Bearer ${token}` };
      };
    }
    case "token-exchange": {
      const secret = credentials.clientSecret ? secrets.read(credentials.clientSecret) : undefined;
      return async (userToken) => {
        const key = `tx:${upstreamId}:${sha256(userToken)}`;
        const token = await cache.get(key, () => {
          const form: Record<string, string> = {
            grant_type: TOKEN_EXCHANGE_GRANT,
            subject_token: userToken,
            subject_token_type: ACCESS_TOKEN_TYPE,
            requested_token_type: ACCESS_TOKEN_TYPE,
            audience: credentials.audience,
          };
          if (credentials.scopes.length > 0) form.scope = credentials.scopes.join(" ");
          if (!secret) form.client_id = credentials.clientId;
          return requestToken(credentials.tokenUrl, form, secret ? { id: credentials.clientId, secret } : undefined);
        });
        return { authorization: `Bearer ${token}` };
      };
    }
  }
}
