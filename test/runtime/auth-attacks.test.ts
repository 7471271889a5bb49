/**
 * Authentication from the attacker's side: every token below is refused with 401 and the right
 * `WWW-Authenticate` challenge, never a 500, and the refused token never reaches the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type RunningGateway, startGateway } from "../../runtime/server/index.js";
import { type AuditEvent, createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { attackerSignedToken, hs256WithPublicKey, plausibleClaims, unsignedToken } from "../support/attacker.js";
import {
  TEST_CLIENTS,
  type TestPlatform,
  authTestBundle,
  freePort,
  initializeRequest,
  mcpHeaders,
  startTestPlatform,
} from "../support/gateway.js";
import { type TestIssuer, startTestIssuer } from "../support/test-issuer.js";

const UPSTREAM_AUDIENCE = "http://upstream.test/mcp";

async function post(url: string, token?: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: mcpHeaders(token), body: initializeRequest() });
}

async function expectInvalidToken(response: Response, description: string): Promise<void> {
  expect(response.status).toBe(401);
  const challenge = response.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain('error="invalid_token"');
  expect(challenge).toContain('resource_metadata="');
  expect(await response.json()).toMatchObject({ error: "invalid_token", error_description: description });
}

describe("authentication against the real authorization server", () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform({ exchangeAudiences: [UPSTREAM_AUDIENCE] });
  });
  afterAll(async () => platform?.close());

  it("lets a client-credentials token through to the MCP endpoint", async () => {
    const response = await post(platform.mcpUrl, await platform.token("reader"));
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toBeTruthy();
  });

  it("lets a user's authorization code + PKCE token through", async () => {
    const response = await post(platform.mcpUrl, await platform.userToken("alice", ["mcp:read"]));
    expect(response.status).toBe(200);
  });

  it("answers a request without a token with 401, resource metadata and scopes, and no error code", async () => {
    const response = await post(platform.mcpUrl);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      `Bearer resource_metadata="${platform.url}/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:write mcp:admin"`,
    );
  });

  it("refuses a garbage token", async () => {
    await expectInvalidToken(await post(platform.mcpUrl, "not-a-jwt"), "malformed token");
  });

  it("refuses a non-Bearer authorization header", async () => {
    const response = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { ...mcpHeaders(), authorization: "Basic YWxpY2U6c2VjcmV0" },
      body: initializeRequest(),
    });
    await expectInvalidToken(response, "malformed authorization header");
  });

  it("refuses an unsigned token (alg: none)", async () => {
    await expectInvalidToken(
      await post(platform.mcpUrl, unsignedToken(plausibleClaims(platform.as.issuer, platform.url))),
      "algorithm not allowed",
    );
  });

  it("refuses an HS256 token signed with the issuer's public key", async () => {
    const publicJwk = platform.as.publicJwks.keys[0]!;
    await expectInvalidToken(
      await post(platform.mcpUrl, hs256WithPublicKey(plausibleClaims(platform.as.issuer, platform.url), publicJwk)),
      "algorithm not allowed",
    );
  });

  it("refuses a token signed by the attacker's key under the issuer's kid", async () => {
    const kid = platform.as.publicJwks.keys[0]!.kid!;
    await expectInvalidToken(
      await post(platform.mcpUrl, await attackerSignedToken(plausibleClaims(platform.as.issuer, platform.url), kid)),
      "bad signature",
    );
  });

  it("refuses a token of another real authorization server", async () => {
    const other = await startAuthServer({
      audience: platform.url,
      scopes: ["mcp:read"],
      clients: [TEST_CLIENTS.reader],
    });
    try {
      const { access_token } = await other.clientCredentials({
        clientId: TEST_CLIENTS.reader.clientId,
        clientSecret: TEST_CLIENTS.reader.clientSecret,
        scopes: ["mcp:read"],
      });
      const response = await post(platform.mcpUrl, access_token);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    } finally {
      await other.close();
    }
  });

  it("refuses a token issued for another audience (a user's token exchanged for an upstream)", async () => {
    const user = await platform.userToken("alice", ["mcp:read"]);
    const exchanged = await platform.as.exchangeToken({
      subjectToken: user,
      clientId: TEST_CLIENTS.delegate.clientId,
      clientSecret: TEST_CLIENTS.delegate.clientSecret,
      audience: UPSTREAM_AUDIENCE,
    });
    await expectInvalidToken(await post(platform.mcpUrl, exchanged.access_token), "wrong audience");
  });

  it("refuses an oversized token without fetching keys for it", async () => {
    const before = platform.as.jwksRequests;
    const huge = await attackerSignedToken(
      plausibleClaims(platform.as.issuer, platform.url, { pad: "x".repeat(9000) }),
      "unknown-kid",
    );
    await expectInvalidToken(await post(platform.mcpUrl, huge), "token too large");
    expect(platform.as.jwksRequests).toBe(before);
  });

  it("never writes a refused token into the audit log", async () => {
    const forged = unsignedToken(plausibleClaims(platform.as.issuer, platform.url, { sub: "audit-probe" }));
    await post(platform.mcpUrl, forged);
    const denials = platform.audit.filter((e) => e.kind === "auth" && e.decision === "deny");
    expect(denials.length).toBeGreaterThan(0);
    expect(JSON.stringify(platform.audit)).not.toContain(forged.slice(0, 40));
  });
});

describe("allowed clients", () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform({
      bundle: (b) => ({ ...b, auth: { ...b.auth, allowedClients: [TEST_CLIENTS.reader.clientId] } }),
    });
  });
  afterAll(async () => platform?.close());

  it("admits a listed client", async () => {
    expect((await post(platform.mcpUrl, await platform.token("reader"))).status).toBe(200);
  });

  it("refuses a valid token of a client that is not in allowedClients", async () => {
    await expectInvalidToken(await post(platform.mcpUrl, await platform.token("writer")), "client not allowed");
  });
});

describe("tokens with a signature the gateway trusts but claims it must refuse", () => {
  let issuer: TestIssuer;
  let gateway: RunningGateway;
  let url: string;
  let events: AuditEvent[];
  const claims = (extra: Record<string, unknown> = {}) => plausibleClaims(issuer.issuer, url, extra);
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    issuer = await startTestIssuer();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const audit = createMemoryAuditLog();
    events = audit.events;
    gateway = await startGateway({
      source: { kind: "inline", bundle: authTestBundle(issuer.issuer, url) },
      port,
      env: {},
      audit,
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await issuer?.close();
  });

  it("accepts a well-formed token (the control case)", async () => {
    expect((await post(`${url}/mcp`, await issuer.sign(claims()))).status).toBe(200);
  });

  it("refuses an expired token", async () => {
    await expectInvalidToken(
      await post(`${url}/mcp`, await issuer.sign(claims({ iat: now() - 600, exp: now() - 120 }))),
      "token expired",
    );
  });

  it("tolerates expiry within the configured clock skew (30 s)", async () => {
    expect((await post(`${url}/mcp`, await issuer.sign(claims({ iat: now() - 600, exp: now() - 5 })))).status).toBe(
      200,
    );
  });

  it("refuses a token that is not yet valid", async () => {
    await expectInvalidToken(
      await post(`${url}/mcp`, await issuer.sign(claims({ nbf: now() + 120 }))),
      "token not yet valid",
    );
  });

  it("refuses a token naming another issuer", async () => {
    await expectInvalidToken(
      await post(`${url}/mcp`, await issuer.sign(claims({ iss: "https://evil.example" }))),
      "wrong issuer",
    );
  });

  it("refuses a token for another audience", async () => {
    await expectInvalidToken(
      await post(`${url}/mcp`, await issuer.sign(claims({ aud: "https://other.example" }))),
      "wrong audience",
    );
  });

  it("refuses a token without sub", async () => {
    const { sub: _sub, ...withoutSub } = claims();
    await expectInvalidToken(await post(`${url}/mcp`, await issuer.sign(withoutSub)), "missing claim sub");
  });

  it("refuses a token with a duplicate sub", async () => {
    const raw = JSON.stringify(claims({ sub: "alice" })).replace(/^\{/, '{"sub":"bob",');
    await expectInvalidToken(await post(`${url}/mcp`, await issuer.sign(raw)), "duplicate claim or header");
  });

  it("refuses a duplicate sub hidden behind a JSON escape", async () => {
    const raw = JSON.stringify(claims({ sub: "alice" })).replace(/^\{/, '{"\\u0073ub":"bob",');
    await expectInvalidToken(await post(`${url}/mcp`, await issuer.sign(raw)), "duplicate claim or header");
  });

  it("refuses a token whose scopes are neither an array nor a string", async () => {
    await expectInvalidToken(
      await post(`${url}/mcp`, await issuer.sign(claims({ scp: { admin: true } }))),
      "invalid claim scp",
    );
  });

  it("refuses a token whose typ is not an access token type", async () => {
    await expectInvalidToken(
      await post(`${url}/mcp`, await issuer.sign(claims(), { typ: "dpop+jwt" })),
      "wrong token type",
    );
  });

  it("accepts space-separated scopes and Okta-style tokens without typ", async () => {
    expect((await post(`${url}/mcp`, await issuer.sign(claims({ scp: "mcp:read mcp:write" })))).status).toBe(200);
  });

  it("picks up a rotated key by refetching the JWKS once, then refuses unknown kids without refetching during the cooldown", async () => {
    const before = issuer.jwksRequests;
    await issuer.rotate();
    expect((await post(`${url}/mcp`, await issuer.sign(claims()))).status).toBe(200);
    expect(issuer.jwksRequests).toBe(before + 1);

    for (let i = 0; i < 5; i++) {
      const { token } = await issuer.signWithUnpublishedKey(claims(), `flood-${i}`);
      await expectInvalidToken(await post(`${url}/mcp`, token), "unknown signing key");
    }
    expect(issuer.jwksRequests).toBe(before + 1);
  });

  it("records each refusal as an auth audit event with the reason", () => {
    const reasons = events.filter((e) => e.kind === "auth" && e.decision === "deny").map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(["token expired", "wrong issuer", "duplicate claim or header", "unknown signing key"]),
    );
  });
});
