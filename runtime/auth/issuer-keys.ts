/**
 * The issuer's signing keys: discovered from its metadata, cached, refreshed when stale, and refetched
 * when a token names an unknown `kid` (at most once per cooldown, so a flood of forged `kid`s cannot turn
 * the gateway into a JWKS-fetching amplifier).
 *
 * Only a token that the keys in memory cannot verify waits for the issuer: stale keys are refreshed in
 * the background while they keep verifying, so a slow or unreachable issuer delays nobody whose key is
 * known. Every change of the key set bumps {@link IssuerKeys.version}; the verifier's cache is tied to it,
 * so a key withdrawn from the JWKS stops vouching for the tokens it signed.
 */
import { type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, createLocalJWKSet, errors } from "jose";
import type { AuthConfig } from "../../policies/bundle/index.js";
import { readBounded } from "./bounded-read.js";

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
  /** The same resolver, telling `usedVersion` which {@link version} of the key set the key it returns is from. */
  resolver(usedVersion: (version: number) => void): KeyResolver;
  /** Fetches metadata and keys if not yet done; rejects when the issuer cannot be reached. */
  load(): Promise<void>;
  /** Keys have been fetched at least once. */
  readonly loaded: boolean;
  /** The issuer's metadata, when discovery succeeded (mirrored at /.well-known/oauth-authorization-server). */
  metadata(): Promise<AuthorizationServerMetadata | undefined>;
  /** How many times the JWKS was fetched (for diagnostics and tests). */
  readonly jwksFetches: number;
  /** Changes whenever the fetched key set differs from the one before (a key added, replaced or withdrawn). */
  readonly version: number;
  /**
   * Starts a background refresh when the keys are older than `jwksCacheMaxAgeSeconds`, without waiting for
   * it; returns the refresh under way, if any (it never rejects). `at` is the current time, when the caller has read it.
   */
  refreshIfStale(at?: number): Promise<void> | undefined;
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

type IssuerKeysConfig = Pick<
  AuthConfig,
  "issuer" | "discoveryUrl" | "jwksUri" | "jwksCooldownSeconds" | "jwksCacheMaxAgeSeconds" | "maxIssuerDocumentBytes"
>;

export function createIssuerKeys(auth: IssuerKeysConfig, options: IssuerKeysOptions = {}): IssuerKeys {
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const cooldownMs = auth.jwksCooldownSeconds * 1000;
  const maxAgeMs = auth.jwksCacheMaxAgeSeconds * 1000;

  let discovered: AuthorizationServerMetadata | undefined;
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  let keySetText: string | undefined;
  let version = 0;
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
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status, body: undefined };
    }
    return { status: response.status, body: JSON.parse(await readBounded(response, url, auth.maxIssuerDocumentBytes)) };
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

  /**
   * The configured JWKS URL, else the discovered one. Discovery runs once, and again only after a failed
   * key fetch (the issuer may have moved its keys), so a refresh is one request to the issuer.
   */
  async function fetchKeys(): Promise<void> {
    let jwksUri = auth.jwksUri;
    if (!jwksUri) {
      discovered ??= await discover();
      jwksUri = discovered.jwks_uri;
      if (!jwksUri) {
        discovered = undefined;
        throw new Error(`the discovery document of ${auth.issuer} has no jwks_uri`);
      }
    }
    try {
      await fetchKeySet(jwksUri);
    } catch (error) {
      if (!auth.jwksUri) discovered = undefined;
      throw error;
    }
  }

  async function fetchKeySet(jwksUri: string): Promise<void> {
    jwksFetches++;
    const { status, body } = await getJson(jwksUri);
    const keys = (body as { keys?: unknown } | undefined)?.keys;
    if (!Array.isArray(keys)) throw new Error(`JWKS at ${jwksUri} is not a key set (HTTP ${status})`);
    const text = JSON.stringify(keys);
    if (text !== keySetText) {
      local = createLocalJWKSet(body as JSONWebKeySet);
      keySetText = text;
      version++;
    }
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

  function refreshIfStale(at = now()): Promise<void> | undefined {
    if (!inflight && local) {
      if (at - fetchedAt <= maxAgeMs || (lastFailure && at - lastFailure.at < failureBackoffMs)) return undefined;
      // Stale keys beat no keys: a failed refresh leaves them in place.
      refresh().catch(() => undefined);
    }
    return inflight?.catch(() => undefined);
  }

  const resolver =
    (usedVersion: (version: number) => void): KeyResolver =>
    async (header, token) => {
      if (!local) await refresh();
      else void refreshIfStale();
      try {
        usedVersion(version);
        return await local!(header, token);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
        if (now() - lastUnknownKidFetch < cooldownMs) throw error;
        lastUnknownKidFetch = now();
        await refresh();
        usedVersion(version);
        return local!(header, token);
      }
    };

  return {
    resolve: resolver(() => undefined),
    resolver,
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
    get version() {
      return version;
    },
    refreshIfStale,
  };
}
