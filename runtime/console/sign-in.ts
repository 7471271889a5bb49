/**
 * Console sign-in: OAuth authorization code + PKCE against the bundle's issuer, admins only.
 *
 * - `/login` starts a flow: a random `state` and PKCE verifier are kept server-side under a random id,
 *   and that id goes to a short-lived pre-login cookie. The callback accepts a code only with the same
 *   browser's cookie and the `state` issued with it, once.
 * - The code is exchanged at the issuer's token endpoint (from discovery) and the access token verified
 *   by the gateway's own verifier (jose, the issuer's JWKS, `iss`, `aud`, `exp`, algorithms): the same
 *   checks as any gateway token, except `auth.allowedClients` (which lists agents); instead the token
 *   must have been issued to the console's own client.
 * - An admin holds the admin scope (or group). A session is a random id in an `HttpOnly; Secure;
 *   SameSite=Strict` cookie; what it stands for stays in a bounded server-side map and ends when the
 *   token expires or the session lifetime is over, whichever is first. The token itself is dropped.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { decodeJwt } from "jose";
import type { Bundle } from "../../policies/bundle/index.js";
import { readBounded } from "../auth/bounded-read.js";
import { type TokenVerifier, createTokenVerifier } from "../auth/verifier.js";
import type { ConsoleSignInConfig } from "./deps.js";

export const SESSION_COOKIE = "tollgate_console";
export const LOGIN_COOKIE = "tollgate_console_login";
const LOGIN_TTL_MS = 10 * 60_000;
const MAX_PENDING_LOGINS = 1000;
const MAX_SESSIONS = 1000;
const DEFAULT_SESSION_TTL_S = 8 * 3600;
const TOKEN_RESPONSE_MAX_BYTES = 64 * 1024;

export interface ConsoleSession {
  /** The admin's verified `sub`. */
  readonly subject: string;
  /** Sent with every form that changes something (explain, sign-out). */
  readonly csrf: string;
  readonly expiresAt: number;
}

interface PendingLogin {
  readonly state: string;
  readonly verifier: string;
  readonly expiresAt: number;
}

/** A refusal at the callback: the status and a reason safe to show (never a token). */
export class SignInError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type CallbackResult = { readonly sessionId: string; readonly session: ConsoleSession };

const randomId = () => randomBytes(32).toString("base64url");

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of cookie `name` in the request, if it is there exactly once. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const values = (req.headers.cookie ?? "")
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
  return values.length === 1 ? values[0] : undefined;
}

/** Keeps `map` under `max` entries: expired ones go first, then the oldest. */
function makeRoom<V extends { expiresAt: number }>(map: Map<string, V>, max: number, now: number): void {
  if (map.size < max) return;
  for (const [key, value] of map) if (value.expiresAt <= now) map.delete(key);
  while (map.size >= max) map.delete(map.keys().next().value as string);
}

export interface SignIn {
  readonly redirectUri: string;
  /** The session a request's cookie names, if it is still valid. */
  session(req: IncomingMessage): ConsoleSession | undefined;
  /** Starts a login: where to send the browser, and the pre-login cookie's value. */
  begin(bundle: Bundle, digest: string): Promise<{ readonly location: string; readonly loginId: string }>;
  /** Finishes a login from the callback's query and the pre-login cookie. Throws {@link SignInError}. */
  finish(bundle: Bundle, digest: string, query: URLSearchParams, loginId: string | undefined): Promise<CallbackResult>;
  /** Ends the session a request's cookie names. */
  end(req: IncomingMessage): void;
  checkCsrf(session: ConsoleSession, token: string | null | undefined): boolean;
}

export function createSignIn(config: ConsoleSignInConfig, now: () => number = Date.now): SignIn {
  const base = config.url.replace(/\/+$/, "");
  const redirectUri = `${base}/callback`;
  const adminScope =
    config.adminGroup && config.adminScope === undefined ? undefined : (config.adminScope ?? "tollgate:admin");
  const sessionTtlMs = (config.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_S) * 1000;
  const pending = new Map<string, PendingLogin>();
  const sessions = new Map<string, ConsoleSession>();
  let verifierFor: { digest: string; verifier: TokenVerifier } | undefined;

  function verifier(bundle: Bundle, digest: string): TokenVerifier {
    if (verifierFor?.digest !== digest) {
      // allowedClients names the agents; the console's token is checked against the console's own client below.
      const { allowedClients: _agents, ...auth } = bundle.auth;
      verifierFor = {
        digest,
        verifier: createTokenVerifier(auth, { resource: bundle.protectedResource.resource, cacheSize: 0 }),
      };
    }
    return verifierFor.verifier;
  }

  async function endpoints(bundle: Bundle, digest: string): Promise<{ authorization: string; token: string }> {
    const keys = verifier(bundle, digest).keys;
    const metadata = await keys.metadata().catch(() => undefined);
    const authorization = metadata?.authorization_endpoint;
    const token = metadata?.token_endpoint;
    if (typeof authorization !== "string" || typeof token !== "string")
      throw new SignInError(
        503,
        `the issuer ${bundle.auth.issuer} publishes no discovery document with authorization_endpoint and token_endpoint (auth.discoveryUrl): the console cannot sign anyone in`,
      );
    return { authorization, token };
  }

  function isAdmin(scopes: readonly string[], token: string): boolean {
    if (adminScope !== undefined && scopes.includes(adminScope)) return true;
    if (!config.adminGroup) return false;
    const groups = decodeJwt(token)[config.adminGroup.claim];
    return Array.isArray(groups) && groups.includes(config.adminGroup.group);
  }

  return {
    redirectUri,
    session(req) {
      const id = readCookie(req, SESSION_COOKIE);
      if (!id) return undefined;
      const session = sessions.get(id);
      if (!session) return undefined;
      if (session.expiresAt <= now()) {
        sessions.delete(id);
        return undefined;
      }
      return session;
    },
    async begin(bundle, digest) {
      const { authorization } = await endpoints(bundle, digest);
      const state = randomId();
      const codeVerifier = randomId();
      const loginId = randomId();
      makeRoom(pending, MAX_PENDING_LOGINS, now());
      pending.set(loginId, { state, verifier: codeVerifier, expiresAt: now() + LOGIN_TTL_MS });
      const url = new URL(authorization);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: config.clientId,
        redirect_uri: redirectUri,
        scope: ["openid", ...(adminScope ? [adminScope] : [])].join(" "),
        state,
        code_challenge: createHash("sha256").update(codeVerifier).digest("base64url"),
        code_challenge_method: "S256",
      }).toString();
      return { location: url.toString(), loginId };
    },
    async finish(bundle, digest, query, loginId) {
      const login = loginId ? pending.get(loginId) : undefined;
      if (loginId) pending.delete(loginId);
      if (!login || login.expiresAt <= now())
        throw new SignInError(400, "this sign-in was not started here or has expired: start again");
      const state = query.get("state");
      if (!state || !sameText(state, login.state))
        throw new SignInError(400, "the state returned by the issuer does not match this sign-in: start again");
      const error = query.get("error");
      if (error) throw new SignInError(403, `the issuer refused the sign-in: ${error.slice(0, 100)}`);
      const code = query.get("code");
      if (!code) throw new SignInError(400, "the issuer returned no authorization code");

      const { token: tokenEndpoint } = await endpoints(bundle, digest);
      const body = new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        code_verifier: login.verifier,
      });
      const headers: Record<string, string> = {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      };
      if (config.clientSecret !== undefined)
        headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(config.clientId)}:${encodeURIComponent(config.clientSecret)}`).toString("base64")}`;
      else body.set("client_id", config.clientId);
      let answer: Record<string, unknown>;
      let status: number;
      try {
        const response = await fetch(tokenEndpoint, {
          method: "POST",
          headers,
          body,
          redirect: "error",
          signal: AbortSignal.timeout(5000),
        });
        status = response.status;
        answer = JSON.parse(await readBounded(response, tokenEndpoint, TOKEN_RESPONSE_MAX_BYTES)) as Record<
          string,
          unknown
        >;
      } catch {
        throw new SignInError(502, "the issuer's token endpoint did not answer with JSON");
      }
      if (status !== 200 || typeof answer.access_token !== "string")
        throw new SignInError(
          403,
          `the token endpoint refused the code${typeof answer.error === "string" ? `: ${answer.error.slice(0, 100)}` : ""}`,
        );
      const accessToken = answer.access_token;
      const result = await verifier(bundle, digest).verify(accessToken);
      if (!result.ok) throw new SignInError(403, `the issuer's token does not verify: ${result.reason}`);
      const principal = result.principal;
      if (principal.clientId !== config.clientId)
        throw new SignInError(403, "the token was not issued to the console's client");
      if (!isAdmin(principal.scopes, accessToken))
        throw new SignInError(
          403,
          `${principal.subject} is not a console administrator: the token carries no ${[
            ...(adminScope ? [`scope ${adminScope}`] : []),
            ...(config.adminGroup ? [`group ${config.adminGroup.group} in ${config.adminGroup.claim}`] : []),
          ].join(" or ")}`,
        );
      makeRoom(sessions, MAX_SESSIONS, now());
      const session: ConsoleSession = {
        subject: principal.subject,
        csrf: randomId(),
        expiresAt: Math.min(now() + sessionTtlMs, principal.expiresAt * 1000),
      };
      const sessionId = randomId();
      sessions.set(sessionId, session);
      return { sessionId, session };
    },
    end(req) {
      const id = readCookie(req, SESSION_COOKIE);
      if (id) sessions.delete(id);
    },
    checkCsrf(session, token) {
      return typeof token === "string" && sameText(token, session.csrf);
    },
  };
}
