/**
 * The issuer's signing keys: discovered from its metadata, cached, refreshed when stale, and refetched
 * when a token names an unknown `kid` (at most once per cooldown, so a flood of forged `kid`s cannot turn
 * the gateway into a JWKS-fetching amplifier).
 */
import { type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, createLocalJWKSet, errors } from "jose";
import type { AuthConfig } from "../../policies/bundle/index.js";

export type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal; headers?: Record<string, string> },
) => Promise<Response>;

export interface IssuerKeysOptions {
  readonly fetch?: FetchLike;
  /** Time allowed for one metadata or JWKS request. @default 5000 */
  readonly timeoutMs?: number;
  /** After a failed fetch, requests fail fast for this long instead of fetching again. @default 1000 */
  readonly failureBackoffMs?: number;
  readonly now?: () => number;
}

/** Authorization server metadata as discovered (RFC 8414 / OIDC discovery). */
export type AuthorizationServerMetadata = Readonly<Record<string, unknown>> & {
  readonly issuer: string;
  readonly jwks_uri?: string;
};

type KeyResolver = (
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
) => ReturnType<ReturnType<typeof createLocalJWKSet>>;

export interface IssuerKeys {
  /** The jose key resolver for `jwtVerify`. */
  readonly resolve: KeyResolver;
  /** Fetches metadata and keys if not yet done; rejects when the issuer cannot be reached. */
  load(): Promise<void>;
  /** Keys have been fetched at least once. */
  readonly loaded: boolean;
  /** The issuer's metadata, when discovery succeeded (mirrored at /.well-known/oauth-authorization-server). */
  metadata(): Promise<AuthorizationServerMetadata | undefined>;
  /** How many times the JWKS was fetched (for diagnostics and tests). */
  readonly jwksFetches: number;
}

/** Candidate discovery URLs, most specific first (OIDC, then RFC 8414 in both the Okta and the path-inserted form). */
export function discoveryUrls(auth: Pick<AuthConfig, "issuer" | "discoveryUrl">): string[] {
  if (auth.discoveryUrl) return [auth.discoveryUrl];
  const issuer = auth.issuer.replace(/\/+$/, "");
  const url = new URL(auth.issuer);
  const path = url.pathname.replace(/\/+$/, "");
  const urls = [`${issuer}/.well-known/openid-configuration`, `${issuer}/.well-known/oauth-authorization-server`];
  if (path) urls.push(`${url.origin}/.well-known/oauth-authorization-server${path}`);
  return urls;
}

export function createIssuerKeys(auth: AuthConfig, options: IssuerKeysOptions = {}): IssuerKeys {
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const cooldownMs = auth.jwksCooldownSeconds * 1000;
  const maxAgeMs = auth.jwksCacheMaxAgeSeconds * 1000;

  let discovered: AuthorizationServerMetadata | undefined;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  let lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;
  let jwksFetches = 0;
  let lastFailure: { at: number; error: unknown } | undefined;
  const failureBackoffMs = options.failureBackoffMs ?? 1000;

  async function getJson(url: string): Promise<{ status: number; body: unknown }> {
    const response = await doFetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: "application/json" },
    });
    if (!response.ok) {
      await response.arrayBuffer().catch(() => undefined);
      return { status: response.status, body: undefined };
    }
    return { status: response.status, body: await response.json() };
  }

  async function discover(): Promise<AuthorizationServerMetadata> {
    const failures: string[] = [];
    for (const url of discoveryUrls(auth)) {
      const { status, body } = await getJson(url);
      if (body === undefined || typeof body !== "object" || body === null) {
        failures.push(`${url}: HTTP ${status}`);
        continue;
      }
      const doc = body as AuthorizationServerMetadata;
      // Mix-up defence (RFC 8414 §3.3): the document must be about the configured issuer.
      if (doc.issuer !== auth.issuer)
        throw new Error(
          `discovery document at ${url} names issuer ${JSON.stringify(doc.issuer)}, expected ${auth.issuer}`,
        );
      return doc;
    }
    throw new Error(`no discovery document for ${auth.issuer} (${failures.join("; ")})`);
  }

  async function fetchKeys(): Promise<void> {
    let jwksUri = auth.jwksUri;
    if (!jwksUri || !discovered) {
      try {
        discovered = await discover();
      } catch (error) {
        if (!jwksUri) throw error;
      }
      jwksUri ??= discovered?.jwks_uri;
    }
    if (!jwksUri) throw new Error(`the discovery document of ${auth.issuer} has no jwks_uri`);
    jwksFetches++;
    const { status, body } = await getJson(jwksUri);
    const keys = (body as { keys?: unknown } | undefined)?.keys;
    if (!Array.isArray(keys)) throw new Error(`JWKS at ${jwksUri} is not a key set (HTTP ${status})`);
    local = createLocalJWKSet(body as JSONWebKeySet);
    fetchedAt = now();
  }

  /**
   * One fetch at a time; concurrent callers share it. After a failure, callers within the backoff get
   * the same failure: while the issuer is down, a burst of requests cannot become a burst of fetches.
   */
  function refresh(): Promise<void> {
    if (lastFailure && now() - lastFailure.at < failureBackoffMs) return Promise.reject(lastFailure.error);
    inflight ??= fetchKeys()
      .then(
        () => {
          lastFailure = undefined;
        },
        (error: unknown) => {
          lastFailure = { at: now(), error };
          throw error;
        },
      )
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  const resolve: KeyResolver = async (header, token) => {
    if (!local) await refresh();
    else if (now() - fetchedAt > maxAgeMs) await refresh().catch(() => undefined); // stale keys beat no keys
    try {
      return await local!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (now() - lastUnknownKidFetch < cooldownMs) throw error;
      lastUnknownKidFetch = now();
      await refresh();
      return local!(header, token);
    }
  };

  return {
    resolve,
    load: async () => {
      if (!local) await refresh();
    },
    get loaded() {
      return local !== undefined;
    },
    metadata: async () => {
      if (!discovered) discovered = await discover().catch(() => undefined);
      return discovered;
    },
    get jwksFetches() {
      return jwksFetches;
    },
  };
}
