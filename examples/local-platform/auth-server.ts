/**
 * A local stand-in for an Okta custom authorization server, built on oidc-provider 9.
 *
 * It issues what the gateway sees from Okta: JWT access tokens signed RS256 with `iss` = this server,
 * `aud` = the gateway URI, `sub` (the user, or the client for machine tokens), `scp` (array) and `cid`
 * (the client). Grants: client credentials, authorization code + PKCE (with a headless login for tests
 * and CLIs, and a one-click login page for browsers), refresh tokens, and RFC 8693 token exchange (a grant
 * registered with oidc-provider's `registerGrantType`: it has none built in) that issues a token for the
 * gateway or another audience with `sub` = the user, `act` = { sub: <the exchanging client> } (a prior `act`
 * nested inside) and the scopes the user held and the client may ask for.
 * Confidential clients authenticate as Okta's do: with a secret (client_secret_basic) or with a client
 * assertion signed by a private key whose public half is registered on the client (private_key_jwt, RFC 7523;
 * `jwks`), checked for signature, iss/sub, aud, expiry and jti replay.
 *
 * Used by the runtime end-to-end tests and by `npm start`. Binds 127.0.0.1 on an ephemeral port unless
 * told otherwise.
 *
 * ```ts
 * const as = await startAuthServer({
 *   audience: "http://127.0.0.1:8080",
 *   scopes: ["mcp:read", "mcp:write"],
 *   clients: [{ clientId: "agent", clientSecret: "s3cret", grants: ["client_credentials"], scopes: ["mcp:read"] }],
 * });
 * const { access_token } = await as.clientCredentials({ clientId: "agent", clientSecret: "s3cret", scopes: ["mcp:read"] });
 * await as.close();
 * ```
 */
import { createHash, randomBytes } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type JWK, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from "jose";
import Provider, { type OidcContext, type ResourceServerLike, errors } from "oidc-provider";
import { ACCESS_TOKEN_TYPE, OIDC_SCOPES, TOKEN_EXCHANGE_GRANT, isOidcScope } from "../../policies/oauth/index.js";
import { createMemoryAdapter } from "./memory-adapter.js";

/** The grant types a local client may use. */
export type AuthGrant = "client_credentials" | "authorization_code" | "refresh_token" | "token_exchange";

export interface AuthClient {
  readonly clientId: string;
  /**
   * `client_secret_basic`. Omit this and `jwks` for a public client (authorization code + PKCE only, no client
   * authentication).
   */
  readonly clientSecret?: string;
  /**
   * Public keys for `private_key_jwt` (RFC 7523): the client proves itself with an assertion signed by the
   * private half, as Okta's service apps do. Not together with `clientSecret`.
   */
  readonly jwks?: { readonly keys: readonly JWK[] };
  readonly grants: readonly AuthGrant[];
  /**
   * Scopes this client may ask for.
   * @default every scope of the server
   */
  readonly scopes?: readonly string[];
  /**
   * Redirect URIs for the authorization code flow.
   * @default ["http://127.0.0.1/callback"]
   */
  readonly redirectUris?: readonly string[];
}

export interface AuthServerOptions {
  /** The gateway URI: `aud` of every token issued for it (Okta: the custom authorization server's audience). */
  readonly audience: string;
  /** Scopes the server knows (e.g. `mcp:read`). */
  readonly scopes: readonly string[];
  readonly clients: readonly AuthClient[];
  /**
   * Users who can log in, by name (the name is the `sub`).
   * @default ["alice", "bob"]
   */
  readonly users?: readonly string[];
  /**
   * Further audiences tokens may be exchanged for (RFC 8693), e.g. an upstream MCP server's URI.
   * @default []
   */
  readonly exchangeAudiences?: readonly string[];
  /** @default 0 (ephemeral) */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /**
   * Access token lifetime in seconds.
   * @default 3600
   */
  readonly accessTokenTtlSeconds?: number;
}

/**
 * How a request authenticates its client: a secret (client_secret_basic), a signed client assertion
 * (private_key_jwt: RFC 7523 `client_assertion`), or neither (a public client: client_id only).
 */
export type ClientProof = { readonly clientSecret?: string; readonly clientAssertion?: string };

/** A token endpoint response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in: number;
  readonly scope?: string;
  readonly refresh_token?: string;
  readonly issued_token_type?: string;
}

export interface AuthServer {
  /** `iss` of the tokens; discovery is at `${issuer}/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly port: number;
  /** How many times the JWKS was requested (to observe a resource server's key fetching). */
  readonly jwksRequests: number;
  /** The public signing keys, as served at `jwksUri`. */
  readonly publicJwks: { keys: JWK[] };
  /** Client credentials grant (a machine token: `sub` = `cid` = the client). */
  clientCredentials(
    request: { clientId: string; scopes?: readonly string[] } & (
      { clientSecret: string } | { clientAssertion: string }
    ),
  ): Promise<TokenResponse>;
  /**
   * Authorization code + PKCE, logged in headlessly as `user` (what a browser would do, without one).
   * Clients allowed the `refresh_token` grant also get a refresh token.
   */
  obtainTokenWithPkce(request: {
    user: string;
    clientId: string;
    clientSecret?: string;
    scopes?: readonly string[];
    redirectUri?: string;
  }): Promise<TokenResponse>;
  refresh(request: { refreshToken: string; clientId: string; clientSecret?: string }): Promise<TokenResponse>;
  /** RFC 8693: exchange a user's token for one for `audience`, `sub` = the user, `act.sub` = the client. */
  exchangeToken(
    request: { subjectToken: string; clientId: string; audience: string; scopes?: readonly string[] } & (
      { clientSecret: string } | { clientAssertion: string }
    ),
  ): Promise<TokenResponse>;
  close(): Promise<void>;
}

/** Raised when the token endpoint refuses a request; carries the OAuth error code. */
export class TokenRequestError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string | undefined,
  ) {
    super(`token endpoint refused the request: ${error}${description ? ` (${description})` : ""}`);
  }
}

const DEFAULT_USERS = ["alice", "bob"] as const;
const DEFAULT_REDIRECT = "http://127.0.0.1/callback";

/** Starts the authorization server. Stop it with `close()`. */
export async function startAuthServer(options: AuthServerOptions): Promise<AuthServer> {
  const host = options.host ?? "127.0.0.1";
  const users = new Set(options.users ?? DEFAULT_USERS);
  const ttl = options.accessTokenTtlSeconds ?? 3600;
  const allScopes = [...new Set(options.scopes)];
  const audiences = new Set([options.audience, ...(options.exchangeAudiences ?? [])]);
  for (const client of options.clients)
    if (client.clientSecret !== undefined && client.jwks !== undefined)
      throw new Error(`auth server client ${client.clientId}: set clientSecret or jwks, not both`);

  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = createHash("sha256").update(randomBytes(16)).digest("base64url").slice(0, 16);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const localKeys = createLocalJWKSet({ keys: [publicJwk] });

  // Listen first: the issuer URL needs the port.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  let jwksRequests = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/jwks")) jwksRequests++;
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host}:${port}`;

  /** The act claim of tokens minted by token exchange, keyed by the token object being minted. */
  const actors = new WeakMap<object, Record<string, unknown>>();

  const resourceServer = (audience: string): ResourceServerLike => ({
    audience,
    scope: allScopes.join(" "),
    accessTokenFormat: "jwt",
    accessTokenTTL: ttl,
    jwt: { sign: { alg: "RS256" } },
    identifier: () => audience,
  });

  const provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      ...(client.jwks
        ? { jwks: { keys: [...client.jwks.keys] }, token_endpoint_auth_method: "private_key_jwt" }
        : client.clientSecret
          ? { client_secret: client.clientSecret, token_endpoint_auth_method: "client_secret_basic" }
          : { token_endpoint_auth_method: "none" }),
      grant_types: client.grants.map((g) => (g === "token_exchange" ? TOKEN_EXCHANGE_GRANT : g)),
      response_types: client.grants.includes("authorization_code") ? ["code"] : [],
      redirect_uris: client.grants.includes("authorization_code")
        ? [...(client.redirectUris ?? [DEFAULT_REDIRECT])]
        : [],
      scope: [...(client.scopes ?? allScopes), ...OIDC_SCOPES].join(" "),
    })),
    jwks: { keys: [privateJwk] },
    // The algorithms Okta accepts for private_key_jwt.
    enabledJWA: { clientAuthSigningAlgValues: ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"] },
    scopes: [...allScopes, ...OIDC_SCOPES],
    findAccount: async (_ctx: unknown, id: string) =>
      users.has(id) ? { accountId: id, claims: async () => ({ sub: id }) } : undefined,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => options.audience,
        useGrantedResource: async () => true,
        // Like Okta, which ignores RFC 8707 `resource`: tokens are for the audience unless it names an exchange audience.
        getResourceServerInfo: async (_ctx: unknown, indicator: string) =>
          resourceServer(audiences.has(indicator) ? indicator : options.audience),
      },
    },
    formats: {
      customizers: {
        // Okta-shaped claims: scp as an array, cid = the client.
        jwt: async (_ctx: unknown, token: object, jwt: { payload: Record<string, unknown> }) => {
          const { scope, client_id: clientId } = jwt.payload;
          jwt.payload.scp = typeof scope === "string" && scope ? scope.split(" ").filter((s) => !isOidcScope(s)) : [];
          jwt.payload.cid = clientId;
          const act = actors.get(token);
          if (act) jwt.payload.act = act;
        },
      },
    },
    // Any client allowed the refresh_token grant gets one (oidc-provider would also demand prompt=consent for offline_access).
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      client.grantTypeAllowed("refresh_token"),
    pkce: { required: () => true },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 86_400,
    },
    clientBasedCORS: () => true,
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = "application/json";
      ctx.body = JSON.stringify(out);
    },
  });

  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: OidcContext) => {
      const params = (ctx.oidc.params ?? {}) as Record<string, string | undefined>;
      const client = ctx.oidc.client;
      if (!client) throw new errors.InvalidRequest("client authentication required");
      if (!params.subject_token) throw new errors.InvalidRequest("missing subject_token");
      if (params.subject_token_type !== ACCESS_TOKEN_TYPE)
        throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
      let subject: Record<string, unknown>;
      try {
        ({ payload: subject } = await jwtVerify(params.subject_token, localKeys, {
          issuer,
          algorithms: ["RS256"],
          requiredClaims: ["sub", "exp"],
        }));
      } catch {
        throw new errors.InvalidGrant("subject_token is not a valid token of this issuer");
      }
      const audience = params.audience ?? params.resource ?? options.audience;
      if (!audiences.has(audience)) throw new errors.InvalidTarget(`cannot issue tokens for ${audience}`);
      // The new token holds what the user held and the exchanging client may hold: an agent's client registered
      // for read scopes cannot turn a user's write scope into its own. Asked for more, the request is refused.
      const held = new Set(Array.isArray(subject.scp) ? (subject.scp as string[]) : []);
      const allowed = new Set(String(client.scope ?? "").split(" "));
      const requested = params.scope ? params.scope.split(" ") : [...held].filter((s) => allowed.has(s));
      const notHeld = requested.filter((s) => !held.has(s));
      if (notHeld.length > 0)
        throw new errors.InvalidScope("requested scopes exceed the subject token's", notHeld.join(" "));
      const notAllowed = requested.filter((s) => !allowed.has(s));
      if (notAllowed.length > 0)
        throw new errors.InvalidScope("requested scopes exceed the client's", notAllowed.join(" "));
      const token = new provider.AccessToken({
        client,
        accountId: String(subject.sub),
        scope: requested.join(" "),
        gty: "token-exchange",
      });
      token.resourceServer = resourceServer(audience);
      const priorActor = subject.act as Record<string, unknown> | undefined;
      actors.set(token, { sub: client.clientId, ...(priorActor ? { act: priorActor } : {}) });
      const value = await token.save();
      ctx.body = {
        access_token: value,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        expires_in: token.expiration,
        scope: requested.join(" ") || undefined,
      };
    },
    [
      "subject_token",
      "subject_token_type",
      "audience",
      "resource",
      "scope",
      "requested_token_type",
      "actor_token",
      "actor_token_type",
    ],
  );

  const providerCallback = provider.callback();
  handler = (req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      handleInteraction(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain" });
        res.end(`login failed: ${(error as Error).message}`);
      });
      return;
    }
    providerCallback(req, res);
  };

  /** Login and consent in one step: the user grants the requested scopes for the requested resource. */
  async function finishLogin(req: IncomingMessage, res: ServerResponse, user: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (!users.has(user)) throw new Error(`unknown user "${user}"`);
    const clientId = String(details.params.client_id);
    const requested = String(details.params.scope ?? "")
      .split(" ")
      .filter(Boolean);
    const grant = new provider.Grant({ accountId: user, clientId });
    // oidc-provider checks requested scopes against the grant's OIDC scopes as well as its resource scopes.
    if (requested.length > 0) grant.addOIDCScope(requested.join(" "));
    const resource = typeof details.params.resource === "string" ? details.params.resource : options.audience;
    const apiScopes = requested.filter((s) => allScopes.includes(s));
    if (apiScopes.length > 0) grant.addResourceScope(resource, apiScopes.join(" "));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  async function handleInteraction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "POST") {
      const body = new URLSearchParams(await readBody(req));
      await finishLogin(req, res, body.get("user") ?? "");
      return;
    }
    const details = await provider.interactionDetails(req, res);
    const hint = details.params.login_hint;
    if (typeof hint === "string" && hint) {
      await finishLogin(req, res, hint);
      return;
    }
    // A one-click login page for browsers (npm start): pick a user.
    const buttons = [...users]
      .map((u) => `<button name="user" value="${escapeHtml(u)}">Log in as ${escapeHtml(u)}</button>`)
      .join(" ");
    res
      .writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end(
        `<!doctype html><title>Local login</title><h1>Local authorization server</h1><p>Client <code>${escapeHtml(String(details.params.client_id))}</code> asks for <code>${escapeHtml(String(details.params.scope ?? ""))}</code>.</p><form method="post" action="/interaction/${escapeHtml(details.uid)}">${buttons}</form>`,
      );
  }

  const tokenEndpoint = `${issuer}/token`;

  async function tokenRequest(
    form: Record<string, string | undefined>,
    clientId: string,
    proof: ClientProof,
  ): Promise<TokenResponse> {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) if (value !== undefined) body.set(key, value);
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (proof.clientSecret !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(proof.clientSecret)}`).toString("base64")}`;
    else {
      body.set("client_id", clientId);
      if (proof.clientAssertion !== undefined) {
        body.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        body.set("client_assertion", proof.clientAssertion);
      }
    }
    const response = await fetch(tokenEndpoint, { method: "POST", headers, body });
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok)
      throw new TokenRequestError(response.status, String(json.error), json.error_description as string | undefined);
    return json as unknown as TokenResponse;
  }

  async function obtainTokenWithPkce(request: {
    user: string;
    clientId: string;
    clientSecret?: string;
    scopes?: readonly string[];
    redirectUri?: string;
  }): Promise<TokenResponse> {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const state = randomBytes(8).toString("hex");
    const redirectUri =
      request.redirectUri ??
      options.clients.find((c) => c.clientId === request.clientId)?.redirectUris?.[0] ??
      DEFAULT_REDIRECT;
    const authUrl = new URL(`${issuer}/auth`);
    authUrl.search = new URLSearchParams({
      client_id: request.clientId,
      response_type: "code",
      redirect_uri: redirectUri,
      scope: (request.scopes ?? allScopes).join(" "),
      code_challenge: challenge,
      code_challenge_method: "S256",
      state,
      resource: options.audience,
      login_hint: request.user,
    }).toString();
    // Follow redirects by hand, with a cookie jar, until the authorization server sends us to redirect_uri.
    const cookies = new Map<string, string>();
    let next = authUrl.toString();
    for (let hop = 0; hop < 10; hop++) {
      if (next.startsWith(redirectUri)) {
        const callback = new URL(next);
        if (callback.searchParams.get("error"))
          throw new TokenRequestError(
            400,
            callback.searchParams.get("error") ?? "",
            callback.searchParams.get("error_description") ?? undefined,
          );
        if (callback.searchParams.get("state") !== state)
          throw new Error("state mismatch on the authorization callback");
        const code = callback.searchParams.get("code");
        if (!code) throw new Error("no code on the authorization callback");
        return tokenRequest(
          { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier },
          request.clientId,
          request.clientSecret === undefined ? {} : { clientSecret: request.clientSecret },
        );
      }
      const response = await fetch(next, {
        redirect: "manual",
        headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(";");
        const eq = pair?.indexOf("=") ?? -1;
        if (pair && eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
      const location = response.headers.get("location");
      await response.arrayBuffer();
      if (!location)
        throw new Error(`authorization flow stopped at ${new URL(next).pathname} with status ${response.status}`);
      next = new URL(location, next).toString();
    }
    throw new Error("authorization flow redirected too many times");
  }

  return {
    issuer,
    tokenEndpoint,
    jwksUri: `${issuer}/jwks`,
    port,
    publicJwks: { keys: [publicJwk] },
    get jwksRequests() {
      return jwksRequests;
    },
    clientCredentials: (r) =>
      tokenRequest(
        { grant_type: "client_credentials", scope: r.scopes?.join(" "), resource: options.audience },
        r.clientId,
        proofOf(r),
      ),
    obtainTokenWithPkce,
    refresh: (r) =>
      tokenRequest({ grant_type: "refresh_token", refresh_token: r.refreshToken }, r.clientId, proofOf(r)),
    exchangeToken: (r) =>
      tokenRequest(
        {
          grant_type: TOKEN_EXCHANGE_GRANT,
          subject_token: r.subjectToken,
          subject_token_type: ACCESS_TOKEN_TYPE,
          audience: r.audience,
          scope: r.scopes?.join(" "),
        },
        r.clientId,
        proofOf(r),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function proofOf(request: { clientSecret?: string; clientAssertion?: string }): ClientProof {
  if (request.clientSecret !== undefined) return { clientSecret: request.clientSecret };
  return request.clientAssertion !== undefined ? { clientAssertion: request.clientAssertion } : {};
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > 16 * 1024) {
        reject(new Error("form too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
