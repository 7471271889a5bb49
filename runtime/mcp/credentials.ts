/**
 * Credentials the gateway presents to an upstream, per the upstream's `credentials.mode`:
 * - `none`: nothing.
 * - `secret-header`: a header whose value is a secret read through the config's SecretReader.
 * - `client-credentials`: the gateway's own OAuth token (client credentials grant), cached until shortly
 *   before it expires and shared by every session (it identifies the gateway, not a user).
 * The OAuth modes authenticate the gateway's client with `client_secret_basic` or, with `privateKeyJwt`, an
 * RFC 7523 client assertion signed per token request (iss = sub = the client id, aud = the token endpoint,
 * a unique jti, valid for a minute), so no shared secret has to exist at all.
 * - `token-exchange`: RFC 8693 — the verified user token is exchanged for a token for the upstream's
 *   audience (the authorization server puts the user in `sub` and the agent in `act`). Cached per user
 *   token. The inbound token itself is never sent upstream.
 * Token endpoint errors are reported without the response body (it may echo a credential); neither a secret
 * nor an assertion is ever logged or put in an error.
 */
import { type JsonWebKeyInput, type KeyObject, createHash, createPrivateKey, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import {
  CLIENT_ASSERTION_ALGORITHMS,
  type ClientAssertionAlgorithm,
  type PrivateKeyJwt,
} from "../../policies/bundle/credentials-schema.js";
import type { SecretRef, UpstreamCredentials } from "../../policies/bundle/index.js";
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

/** How the gateway's own client authenticates at the token endpoint. */
type ClientAuthentication =
  | { readonly method: "client_secret_basic"; readonly clientId: string; readonly secret: string }
  | { readonly method: "private_key_jwt"; readonly clientId: string; readonly assertion: ClientAssertionSigner }
  /** A public client: `client_id` in the form, no proof (token exchange only). */
  | { readonly method: "none"; readonly clientId: string };

/** RFC 7523 `client_assertion_type` for a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async function requestToken(
  tokenUrl: string,
  form: Record<string, string>,
  client: ClientAuthentication,
): Promise<{ token: string; expiresInSeconds: number }> {
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  const body = new URLSearchParams(form);
  if (client.method === "client_secret_basic") {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`).toString("base64")}`;
  } else {
    body.set("client_id", client.clientId);
    if (client.method === "private_key_jwt") {
      body.set("client_assertion_type", JWT_BEARER_ASSERTION_TYPE);
      body.set("client_assertion", await client.assertion.sign(client.clientId, tokenUrl));
    }
  }
  const response = await fetch(tokenUrl, {
    method: "POST",
    headers,
    body,
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(
      `token endpoint ${new URL(tokenUrl).origin} answered ${response.status} for grant ${form.grant_type} (client authentication ${client.method})`,
    );
  }
  const json = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
  if (typeof json.access_token !== "string")
    throw new Error(`token endpoint ${new URL(tokenUrl).origin} returned no access_token`);
  return { token: json.access_token, expiresInSeconds: typeof json.expires_in === "number" ? json.expires_in : 300 };
}

/** Longest a client assertion is valid: one token request, with room for clock skew at the server. */
const ASSERTION_LIFETIME_SECONDS = 60;

const ALGORITHM_FOR_CURVE: Readonly<Record<string, ClientAssertionAlgorithm>> = {
  prime256v1: "ES256",
  secp384r1: "ES384",
  secp521r1: "ES512",
};

/** What the bundle says about the key beyond where it is: both optional, both checked against the key. */
type AssertionKeyChoice = Pick<PrivateKeyJwt, "keyId" | "algorithm">;

interface SigningKey {
  readonly key: KeyObject;
  readonly algorithm: ClientAssertionAlgorithm;
  readonly keyId: string | undefined;
}

/**
 * The signing key from the secret's text (a private JWK or PKCS#8 PEM) and the bundle's `privateKeyJwt`.
 * Errors name the field and never quote the key.
 */
export function signingKeyFrom(text: string, config: AssertionKeyChoice, where: string): SigningKey {
  const field = `${where}.privateKeyJwt`;
  const trimmed = text.trim();
  let key: KeyObject;
  let jwk: { kid?: unknown; alg?: unknown; d?: unknown } | undefined;
  try {
    if (trimmed.startsWith("{")) {
      jwk = JSON.parse(trimmed) as { kid?: unknown; alg?: unknown; d?: unknown };
      if (jwk.d === undefined)
        throw new Error(
          `${field}.privateKey: holds a public key: give the gateway the private JWK (tollgate keygen --out), register the public one on the client`,
        );
      key = createPrivateKey({ key: jwk as JsonWebKeyInput["key"], format: "jwk" });
    } else key = createPrivateKey(trimmed);
  } catch (error) {
    if ((error as Error).message.startsWith(field)) throw error;
    throw new Error(
      `${field}.privateKey: expected a private JWK (what tollgate keygen writes) or a PKCS#8 PEM private key; the secret is neither`,
    );
  }
  const jwkKid = typeof jwk?.kid === "string" ? jwk.kid : undefined;
  if (config.keyId !== undefined && jwkKid !== undefined && config.keyId !== jwkKid)
    throw new Error(
      `${field}.keyId: "${config.keyId}" is not the kid of the private key ("${jwkKid}"): deploy the key registered on the client, or fix keyId`,
    );
  const jwkAlg = typeof jwk?.alg === "string" ? jwk.alg : undefined;
  if (config.algorithm !== undefined && jwkAlg !== undefined && config.algorithm !== jwkAlg)
    throw new Error(`${field}.algorithm: ${config.algorithm}, but the private key is for ${jwkAlg}`);
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const natural = type === "rsa" ? "RS256" : curve ? ALGORITHM_FOR_CURVE[curve] : undefined;
  const algorithm =
    config.algorithm ?? (CLIENT_ASSERTION_ALGORITHMS as readonly string[]).find((a) => a === jwkAlg) ?? natural;
  const fits =
    algorithm !== undefined &&
    (algorithm.startsWith("RS")
      ? type === "rsa"
      : type === "ec" && curve !== undefined && ALGORITHM_FOR_CURVE[curve] === algorithm);
  if (!algorithm || !fits)
    throw new Error(
      `${field}: a ${type ?? "unknown"}${curve ? ` ${curve}` : ""} key cannot sign ${algorithm ?? "any of " + CLIENT_ASSERTION_ALGORITHMS.join(", ")}: use an RSA key (RS256) or an EC P-256 key (ES256)`,
    );
  return { key, algorithm: algorithm as ClientAssertionAlgorithm, keyId: config.keyId ?? jwkKid };
}

/** Signs RFC 7523 client assertions (`private_key_jwt`): iss = sub = the client, aud = the token endpoint, a fresh jti. */
export class ClientAssertionSigner {
  private signingKey: SigningKey | undefined;

  constructor(
    private readonly keyText: string,
    private readonly config: AssertionKeyChoice,
    private readonly where: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new assertion for one token request: never reused, never logged. */
  async sign(clientId: string, tokenUrl: string): Promise<string> {
    // Parsed on first use, so a bad key fails this upstream's token requests rather than the whole session.
    const { key, algorithm, keyId } = (this.signingKey ??= signingKeyFrom(this.keyText, this.config, this.where));
    const issuedAt = Math.floor(this.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: algorithm, typ: "JWT", ...(keyId ? { kid: keyId } : {}) })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
      .sign(key);
  }
}

/** The client authentication an upstream's OAuth credentials call for. */
function clientAuthentication(
  upstreamId: string,
  credentials: { clientId: string; clientSecret?: SecretRef | undefined; privateKeyJwt?: PrivateKeyJwt | undefined },
  secrets: SecretReader,
): ClientAuthentication {
  const { clientId, clientSecret, privateKeyJwt } = credentials;
  if (privateKeyJwt) {
    const where = `mcp.upstreams[${upstreamId}].credentials`;
    return {
      method: "private_key_jwt",
      clientId,
      assertion: new ClientAssertionSigner(secrets.read(privateKeyJwt.privateKey), privateKeyJwt, where),
    };
  }
  if (clientSecret) return { method: "client_secret_basic", clientId, secret: secrets.read(clientSecret) };
  return { method: "none", clientId };
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
      const client = clientAuthentication(upstreamId, credentials, secrets);
      const form: Record<string, string> = { grant_type: "client_credentials" };
      if (credentials.scopes.length > 0) form.scope = credentials.scopes.join(" ");
      if (credentials.audience) form.audience = credentials.audience;
      const key = `cc:${upstreamId}:${credentials.tokenUrl}:${credentials.clientId}`;
      return async () => {
        const token = await cache.get(key, () => requestToken(credentials.tokenUrl, form, client));
        return { authorization: `Bearer ${token}` };
      };
    }
    case "token-exchange": {
      const client = clientAuthentication(upstreamId, credentials, secrets);
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
          return requestToken(credentials.tokenUrl, form, client);
        });
        return { authorization: `Bearer ${token}` };
      };
    }
  }
}
