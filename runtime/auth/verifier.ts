/**
 * Access token verification (DESIGN.md request path, stages 1–2: authenticate, identify).
 *
 * Order: size cap and duplicate members on the raw text → signature with a pinned algorithm and the
 * issuer's key → `typ` → `iss`, `aud`, `exp`, `nbf`, `iat` (bounded skew, maximum age) and required
 * claims → lifetime → claim types (`sub`, scopes, client) → allowed clients. Every failure is a
 * {@link VerifyFailure}; nothing throws.
 *
 * Verified tokens are cached until they expire or grow too old, keyed by the end of the token text and
 * checked against the whole token (which the principal holds): the hot path is one map lookup of a short
 * key, one string comparison, one clock read and one comparison of the key set's version, no hash of the
 * token. An entry counts only for the key set it was verified with: once the JWKS changes (a key withdrawn,
 * replaced or added), a cached token is verified again, so a withdrawn key vouches for nothing.
 * Requests that bring the same token while it is being verified wait for that one verification (an agent's
 * parallel calls right after a gateway starts), matched on the whole token, never on the cache's short key.
 */
import { type JWTPayload, errors, jwtVerify } from "jose";
import type { AuthConfig } from "../../policies/bundle/index.js";
import type { Principal } from "../http/types.js";
import { type IssuerKeys, type IssuerKeysOptions, createIssuerKeys } from "./issuer-keys.js";
import { checkRawToken } from "./raw-token.js";

export type VerifyResult = { readonly ok: true; readonly principal: Principal } | VerifyFailure;

/** Why a token was refused. `reason` is safe to send to the client and to log: it never holds the token. */
export interface VerifyFailure {
  readonly ok: false;
  readonly reason: string;
}

export interface TokenVerifier {
  /** Verifies `token`: at once when it was verified before and has not expired, else asynchronously. */
  verify(token: string): VerifyResult | Promise<VerifyResult>;
  readonly keys: IssuerKeys;
}

export interface TokenVerifierOptions extends IssuerKeysOptions {
  /** Verified tokens kept in the cache; 0 turns the cache off. @default 10000 */
  readonly cacheSize?: number;
  /**
   * The protected resource the gateway advertises (RFC 9728 `resource`, the bundle's
   * `protectedResource.resource`): a token issued for it is accepted besides `auth.audiences`.
   */
  readonly resource?: string;
}

/** Characters at the end of a token that key the verified-token cache. */
const CACHE_KEY_CHARS = 32;

/** `typ` values of an RFC 9068 access token. */
const ACCESS_TOKEN_TYP = new Set(["at+jwt", "application/at+jwt"]);
/** `typ` values accepted when the profile does not require `at+jwt` (Okta's access tokens carry none). */
const ACCEPTED_TYP = new Set([...ACCESS_TOKEN_TYP, "jwt"]);

/** Reads scopes from an array of strings or a space-separated string; anything else is invalid. */
export function parseScopes(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (typeof value === "string") return value.split(" ").filter(Boolean);
  if (Array.isArray(value) && value.every((s) => typeof s === "string")) return value as string[];
  return undefined;
}

/**
 * `act.sub` of the outermost `act` (RFC 8693 §4.1: the current actor; a nested `act` is the chain before it),
 * `undefined` without `act`, `null` for an `act` that is not an object with a non-empty string `sub`.
 */
export function actorOf(act: unknown): string | undefined | null {
  if (act === undefined) return undefined;
  if (typeof act !== "object" || act === null || Array.isArray(act)) return null;
  const sub = (act as { sub?: unknown }).sub;
  return typeof sub === "string" && sub.length > 0 ? sub : null;
}

function fail(reason: string): VerifyFailure {
  return { ok: false, reason };
}

/** Maps a jose error to a client-safe reason. */
function reasonFor(error: unknown): string {
  if (error instanceof errors.JWTExpired) return error.claim === "iat" ? "token too old" : "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return "token not yet valid";
    if (error.claim === "iat" && error.reason === "check_failed") return "token issued in the future";
    if (error.claim === "iss") return "wrong issuer";
    if (error.claim === "aud") return "wrong audience";
    if (error.reason === "missing") return `missing claim ${error.claim}`;
    return `invalid claim ${error.claim}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (error instanceof errors.JWKSNoMatchingKey) return "unknown signing key";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad signature";
  if (error instanceof errors.JOSENotSupported) return "unsupported token";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed token";
  if (error instanceof errors.JOSEError) return "invalid token";
  // Network errors reaching the issuer, weak keys (TypeError) and anything else: still a 401.
  return "token could not be verified";
}

interface CacheEntry {
  readonly result: { readonly ok: true; readonly principal: Principal };
  /** Seconds since the epoch after which the token is refused: `exp` + skew (never past `iat` + maximum age). */
  readonly refuseAfter: number;
  /** {@link IssuerKeys.version} the signature was checked with. */
  readonly keysVersion: number;
}

export function createTokenVerifier(auth: AuthConfig, options: TokenVerifierOptions = {}): TokenVerifier {
  const keys = createIssuerKeys(auth, options);
  const now = options.now ?? Date.now;
  const cacheSize = options.cacheSize ?? 10_000;
  // Keyed by the token's last characters (the end of its signature), so a lookup hashes a short string
  // rather than the whole token; a hit counts only if the whole token is the one cached (its principal
  // holds it), so a token sharing those characters is simply verified.
  const cache = new Map<string, CacheEntry>();
  /** Verifications under way, by the whole token. */
  const verifying = new Map<string, Promise<VerifyResult>>();
  const keyOf = (token: string) => (token.length > 2 * CACHE_KEY_CHARS ? token.slice(-CACHE_KEY_CHARS) : token);
  const allowedClients = auth.allowedClients ? new Set(auth.allowedClients) : undefined;
  const requiredClaims = [
    ...new Set(["exp", "iat", "sub", ...(auth.requireScopeClaim ? [auth.scopeClaim] : []), ...auth.requiredClaims]),
  ];
  const audiences = [...new Set([...auth.audiences, ...(options.resource ? [options.resource] : [])])];
  const acceptedTyp = auth.requireAccessTokenType ? ACCESS_TOKEN_TYP : ACCEPTED_TYP;

  async function verifyUncached(token: string): Promise<CacheEntry | VerifyFailure> {
    const problem = checkRawToken(token, auth.maxTokenBytes);
    if (problem === "too-large") return fail("token too large");
    if (problem === "malformed") return fail("malformed token");
    if (problem === "duplicate-member") return fail("duplicate claim or header");

    // The version of the key set the signing key came from; -1 (matching nothing) until a key is resolved.
    let keysVersion = -1;
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(
        token,
        keys.resolver((version) => (keysVersion = version)),
        {
          algorithms: auth.algorithms,
          issuer: auth.issuer,
          audience: audiences,
          clockTolerance: auth.clockSkewSeconds,
          requiredClaims,
          maxTokenAge: auth.maxTokenAgeSeconds,
          currentDate: new Date(now()),
        },
      );
      const typ = result.protectedHeader.typ;
      if (typ === undefined ? auth.requireAccessTokenType : !acceptedTyp.has(typ.toLowerCase()))
        return fail("wrong token type");
      payload = result.payload;
    } catch (error) {
      return fail(reasonFor(error));
    }

    if (typeof payload.sub !== "string" || payload.sub.length === 0) return fail("invalid claim sub");
    const { exp, iat } = payload;
    if (typeof exp !== "number") return fail("invalid claim exp");
    if (typeof iat !== "number") return fail("invalid claim iat");
    // Bounds the cached entry too: a token expires before it grows older than the maximum age.
    if (exp - iat > auth.maxTokenAgeSeconds + auth.clockSkewSeconds) return fail("token lifetime too long");
    const scopes = parseScopes(payload[auth.scopeClaim]);
    if (!scopes) return fail(`invalid claim ${auth.scopeClaim}`);
    let clientId: string | undefined;
    for (const claim of auth.clientClaims) {
      const value = payload[claim];
      if (value === undefined) continue;
      if (typeof value !== "string" || value.length === 0) return fail(`invalid claim ${claim}`);
      clientId = value;
      break;
    }
    if (allowedClients && (clientId === undefined || !allowedClients.has(clientId))) return fail("client not allowed");
    const actor = actorOf(payload.act);
    if (actor === null) return fail("invalid claim act");

    return {
      result: {
        ok: true,
        principal: {
          issuer: auth.issuer,
          subject: payload.sub,
          clientId,
          scopes,
          expiresAt: exp,
          token,
          ...(actor !== undefined ? { actor } : {}),
          claims: payload,
        },
      },
      refuseAfter: exp + auth.clockSkewSeconds,
      keysVersion,
    };
  }

  function remember(key: string, entry: CacheEntry): void {
    if (cacheSize <= 0) return;
    if (cache.size >= cacheSize) {
      // Evict the oldest entry (Map iteration order is insertion order).
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, entry);
  }

  return {
    keys,
    verify: (token) => {
      const key = keyOf(token);
      const cached = cache.get(key);
      if (cached && cached.result.principal.token === token) {
        const at = now();
        if (cached.refuseAfter <= at / 1000) {
          cache.delete(key);
          return fail("token expired");
        }
        if (cached.keysVersion === keys.version) {
          void keys.refreshIfStale(at);
          return cached.result;
        }
        cache.delete(key); // the key set changed since: verify the signature again
      }
      const pending = verifying.get(token);
      if (pending) return pending;
      const verified = verifyUncached(token)
        .then((outcome) => {
          if (!("result" in outcome)) return outcome;
          remember(key, outcome);
          return outcome.result;
        })
        .finally(() => verifying.delete(token));
      verifying.set(token, verified);
      return verified;
    },
  };
}
