import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, TokenRequestError, startAuthServer } from "../../examples/local-platform/auth-server.js";

const AUDIENCE = "http://127.0.0.1:9/gateway";
const UPSTREAM = "http://upstream.test/mcp";

describe("local authorization server (Okta stand-in)", () => {
  let as: AuthServer;
  beforeAll(async () => {
    as = await startAuthServer({
      audience: AUDIENCE,
      scopes: ["mcp:read", "mcp:write"],
      exchangeAudiences: [UPSTREAM],
      clients: [
        {
          clientId: "agent",
          clientSecret: "agent-secret-value",
          grants: ["client_credentials", "token_exchange"],
          scopes: ["mcp:read"],
        },
        { clientId: "cli", grants: ["authorization_code", "refresh_token"] },
      ],
    });
  });
  afterAll(async () => as?.close());

  it("issues Okta-shaped client-credentials tokens for the gateway audience", async () => {
    const { access_token } = await as.clientCredentials({
      clientId: "agent",
      clientSecret: "agent-secret-value",
      scopes: ["mcp:read"],
    });
    expect(decodeProtectedHeader(access_token).alg).toBe("RS256");
    const claims = decodeJwt(access_token);
    expect(claims).toMatchObject({ iss: as.issuer, aud: AUDIENCE, sub: "agent", cid: "agent", scp: ["mcp:read"] });
  });

  it("refuses a client credentials request for a scope the client may not ask for", async () => {
    await expect(
      as.clientCredentials({ clientId: "agent", clientSecret: "agent-secret-value", scopes: ["mcp:write"] }),
    ).rejects.toBeInstanceOf(TokenRequestError);
  });

  it("logs a user in headlessly with authorization code + PKCE and refreshes the token", async () => {
    const tokens = await as.obtainTokenWithPkce({
      user: "alice",
      clientId: "cli",
      scopes: ["mcp:read", "mcp:write", "offline_access"],
    });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: "alice",
      cid: "cli",
      aud: AUDIENCE,
      scp: ["mcp:read", "mcp:write"],
    });
    expect(tokens.refresh_token).toBeTypeOf("string");
    const refreshed = await as.refresh({ refreshToken: tokens.refresh_token!, clientId: "cli" });
    expect(decodeJwt(refreshed.access_token)).toMatchObject({ sub: "alice", aud: AUDIENCE });
  });

  it("exchanges a user's token for an upstream token with sub = user and act = agent", async () => {
    const user = await as.obtainTokenWithPkce({ user: "bob", clientId: "cli", scopes: ["mcp:read"] });
    const exchanged = await as.exchangeToken({
      subjectToken: user.access_token,
      clientId: "agent",
      clientSecret: "agent-secret-value",
      audience: UPSTREAM,
    });
    expect(exchanged.issued_token_type).toBe("urn:ietf:params:oauth:token-type:access_token");
    expect(decodeJwt(exchanged.access_token)).toMatchObject({
      sub: "bob",
      aud: UPSTREAM,
      act: { sub: "agent" },
      scp: ["mcp:read"],
    });
  });

  it("refuses to exchange a token for scopes the user does not hold", async () => {
    const user = await as.obtainTokenWithPkce({ user: "bob", clientId: "cli", scopes: ["mcp:read"] });
    await expect(
      as.exchangeToken({
        subjectToken: user.access_token,
        clientId: "agent",
        clientSecret: "agent-secret-value",
        audience: UPSTREAM,
        scopes: ["mcp:write"],
      }),
    ).rejects.toMatchObject({ error: "invalid_scope" });
  });

  it("refuses to exchange a forged subject token", async () => {
    await expect(
      as.exchangeToken({
        subjectToken: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.",
        clientId: "agent",
        clientSecret: "agent-secret-value",
        audience: UPSTREAM,
      }),
    ).rejects.toMatchObject({ error: "invalid_grant" });
  });
});
