/**
 * Claims from the attacker's side: tokens signed by the trusted issuer (a JOSE-signed test issuer, and
 * the real oidc-provider) that must still be refused, or read narrowly: too old, too long-lived, from the
 * future, ID tokens presented as access tokens, and tokens carrying two sets of scopes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthConfig, type BundleInput, RuntimeBundleSchema } from "../../policies/bundle/index.js";
import { createTokenVerifier } from "../../runtime/auth/verifier.js";
import { type RunningGateway, startGateway } from "../../runtime/server/index.js";
import { plausibleClaims } from "../support/attacker.js";
import {
  type TestPlatform,
  authTestBundle,
  freePort,
  initializeRequest,
  mcpHeaders,
  startTestPlatform,
} from "../support/gateway.js";
import { type TestIssuer, startTestIssuer } from "../support/test-issuer.js";

const now = () => Math.floor(Date.now() / 1000);
const DAY = 86_400;

async function post(url: string, token: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: mcpHeaders(token), body: initializeRequest() });
}

async function expectRefused(response: Response, description: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  expect(await response.json()).toMatchObject({ error: "invalid_token", error_description: description });
}

function authConfig(bundle: BundleInput, auth: Record<string, unknown> = {}): AuthConfig {
  return RuntimeBundleSchema.parse({ ...bundle, auth: { ...bundle.auth, ...auth } }).auth;
}

describe("token age, lifetime and issue time at the gateway", () => {
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  let mcpUrl: string;
  const claims = (extra: Record<string, unknown> = {}) => plausibleClaims(issuer.issuer, gateway.url, extra);

  beforeAll(async () => {
    issuer = await startTestIssuer();
    const port = await freePort();
    gateway = await startGateway({
      source: { kind: "inline", bundle: authTestBundle(issuer.issuer, `http://127.0.0.1:${port}`) },
      port,
      env: {},
      log: () => undefined,
    });
    mcpUrl = `${gateway.url}/mcp`;
  });
  afterAll(async () => {
    await gateway?.close();
    await issuer?.close();
  });

  it("accepts a token issued now for an hour (the control case)", async () => {
    expect((await post(mcpUrl, await issuer.sign(claims()))).status).toBe(200);
  });

  it("refuses a token without iat", async () => {
    const { iat: _iat, ...withoutIat } = claims();
    await expectRefused(await post(mcpUrl, await issuer.sign(withoutIat)), "missing claim iat");
  });

  it("refuses a token valid for ten years", async () => {
    await expectRefused(
      await post(mcpUrl, await issuer.sign(claims({ iat: now(), exp: now() + 3650 * DAY }))),
      "token lifetime too long",
    );
  });

  it("refuses a token issued one day in the future", async () => {
    await expectRefused(
      await post(mcpUrl, await issuer.sign(claims({ iat: now() + DAY, exp: now() + DAY + 300 }))),
      "token issued in the future",
    );
  });

  it("tolerates an issue time in the future within the clock skew (30 s)", async () => {
    expect((await post(mcpUrl, await issuer.sign(claims({ iat: now() + 10, exp: now() + 600 })))).status).toBe(200);
  });

  it("refuses a token issued longer ago than the maximum age (one day)", async () => {
    await expectRefused(
      await post(mcpUrl, await issuer.sign(claims({ iat: now() - 2 * DAY, exp: now() + 300 }))),
      "token too old",
    );
  });

  it("accepts, at the gateway, a token whose audience is the MCP resource it advertises (RFC 9728)", async () => {
    expect((await post(mcpUrl, await issuer.sign(plausibleClaims(issuer.issuer, mcpUrl)))).status).toBe(200);
    await expectRefused(
      await post(mcpUrl, await issuer.sign(plausibleClaims(issuer.issuer, `${gateway.url}/other`))),
      "wrong audience",
    );
  });

  it("refuses an ID-token-shaped token: no scopes, audience listing the client and the gateway", async () => {
    const { scp: _scp, cid: _cid, ...rest } = claims();
    const idToken = { ...rest, aud: ["tollgate-cli", gateway.url], azp: "tollgate-cli", nonce: "n-0S6_WzA2Mj" };
    await expectRefused(await post(mcpUrl, await issuer.sign(idToken, { typ: "JWT" })), "missing claim scp");
  });
});

describe("the advertised protected resource as audience", () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startTestIssuer();
  });
  afterAll(async () => issuer?.close());

  it("accepts a token issued for the resource the gateway advertises (RFC 9728), and no other", async () => {
    const bundle = authTestBundle(issuer.issuer, "https://gateway.test");
    const resource = bundle.protectedResource.resource as string;
    expect(resource).toBe("https://gateway.test/mcp");
    const verifier = createTokenVerifier(authConfig(bundle), { resource });
    const forResource = await issuer.sign(plausibleClaims(issuer.issuer, resource));
    expect(await verifier.verify(forResource)).toMatchObject({ ok: true, principal: { subject: "alice" } });
    const forSibling = await issuer.sign(plausibleClaims(issuer.issuer, "https://gateway.test/other"));
    expect(await verifier.verify(forSibling)).toEqual({ ok: false, reason: "wrong audience" });
  });
});

describe("claim names per issuer", () => {
  let issuer: TestIssuer;
  let bundle: BundleInput;
  const audience = "https://gateway.test";
  beforeAll(async () => {
    issuer = await startTestIssuer();
    bundle = authTestBundle(issuer.issuer, audience);
  });
  afterAll(async () => issuer?.close());

  /** Both claim sets: Okta's grants read only, RFC 9068's grants admin. */
  const bothShapes = () =>
    plausibleClaims(issuer.issuer, audience, {
      cid: "okta-agent",
      scp: ["mcp:read"],
      client_id: "rfc-agent",
      scope: "mcp:read mcp:write mcp:admin",
    });

  it("reads Okta's claims by default (cid, scp as an array)", async () => {
    const verifier = createTokenVerifier(authConfig(bundle));
    expect(await verifier.verify(await issuer.sign(plausibleClaims(issuer.issuer, audience)))).toMatchObject({
      ok: true,
      principal: { clientId: "agent", scopes: ["mcp:read"] },
    });
  });

  it("reads RFC 9068 claims under the rfc9068 profile (client_id, scope as a string, typ at+jwt)", async () => {
    const verifier = createTokenVerifier(authConfig(bundle, { tokenProfile: "rfc9068" }));
    const { cid: _cid, scp: _scp, ...rest } = plausibleClaims(issuer.issuer, audience);
    const token = await issuer.sign({ ...rest, client_id: "agent", scope: "mcp:read mcp:write" }, { typ: "at+jwt" });
    expect(await verifier.verify(token)).toMatchObject({
      ok: true,
      principal: { clientId: "agent", scopes: ["mcp:read", "mcp:write"] },
    });
  });

  it("never gives a token carrying both shapes the union: Okta's profile reads only scp and cid", async () => {
    const verifier = createTokenVerifier(authConfig(bundle));
    const result = await verifier.verify(await issuer.sign(bothShapes(), { typ: "at+jwt" }));
    expect(result).toMatchObject({ ok: true, principal: { clientId: "okta-agent", scopes: ["mcp:read"] } });
  });

  it("never gives a token carrying both shapes the union: RFC 9068's profile reads only scope and client_id", async () => {
    const verifier = createTokenVerifier(authConfig(bundle, { tokenProfile: "rfc9068" }));
    const result = await verifier.verify(await issuer.sign(bothShapes(), { typ: "at+jwt" }));
    expect(result).toMatchObject({
      ok: true,
      principal: { clientId: "rfc-agent", scopes: ["mcp:read", "mcp:write", "mcp:admin"] },
    });
  });

  it("refuses a token without typ at+jwt under the rfc9068 profile (an ID token is typ JWT)", async () => {
    const verifier = createTokenVerifier(authConfig(bundle, { tokenProfile: "rfc9068" }));
    const claims = { ...plausibleClaims(issuer.issuer, audience), scope: "mcp:read" };
    expect(await verifier.verify(await issuer.sign(claims, { typ: "JWT" }))).toEqual({
      ok: false,
      reason: "wrong token type",
    });
    expect(await verifier.verify(await issuer.sign({ ...claims, sub: "bob" }))).toEqual({
      ok: false,
      reason: "wrong token type",
    });
  });

  it("refuses a token without the configured scope claim, and admits it when the check is turned off", async () => {
    const { scp: _scp, ...claims } = plausibleClaims(issuer.issuer, audience);
    const token = await issuer.sign(claims);
    expect(await createTokenVerifier(authConfig(bundle)).verify(token)).toEqual({
      ok: false,
      reason: "missing claim scp",
    });
    expect(await createTokenVerifier(authConfig(bundle, { requireScopeClaim: false })).verify(token)).toMatchObject({
      ok: true,
      principal: { scopes: [] },
    });
  });

  it("lets a bundle name its own claims, still reading only those", async () => {
    const verifier = createTokenVerifier(authConfig(bundle, { scopeClaim: "permissions", clientClaims: ["appid"] }));
    const token = await issuer.sign(
      plausibleClaims(issuer.issuer, audience, { permissions: ["mcp:write"], appid: "app-1", scp: ["mcp:admin"] }),
    );
    expect(await verifier.verify(token)).toMatchObject({
      ok: true,
      principal: { clientId: "app-1", scopes: ["mcp:write"] },
    });
  });
});

describe("the real oidc-provider under each profile", () => {
  let okta: TestPlatform;
  let rfc9068: TestPlatform;
  beforeAll(async () => {
    okta = await startTestPlatform();
    rfc9068 = await startTestPlatform({ bundle: (b) => ({ ...b, auth: { ...b.auth, tokenProfile: "rfc9068" } }) });
  });
  afterAll(async () => {
    await okta?.close();
    await rfc9068?.close();
  });

  it("issues tokens the gateway accepts under the default (okta) profile", async () => {
    expect((await post(okta.mcpUrl, await okta.token("reader"))).status).toBe(200);
    expect((await post(okta.mcpUrl, await okta.userToken("alice"))).status).toBe(200);
  });

  it("issues tokens the gateway accepts under the rfc9068 profile, read from client_id and scope", async () => {
    expect((await post(rfc9068.mcpUrl, await rfc9068.token("writer"))).status).toBe(200);
    expect((await post(rfc9068.mcpUrl, await rfc9068.userToken("alice"))).status).toBe(200);
    const verifier = createTokenVerifier(rfc9068.gateway.active().config.bundle.auth);
    expect(await verifier.verify(await rfc9068.token("writer"))).toMatchObject({
      ok: true,
      principal: { clientId: "writer-agent", scopes: expect.arrayContaining(["mcp:read", "mcp:write"]) },
    });
  });
});
