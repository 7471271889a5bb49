/**
 * Tokens from every grant of the real authorization server identify the right human and agent at the
 * gateway: client credentials (the agent itself), authorization code + PKCE (a user through a CLI),
 * and RFC 8693 token exchange (a user, with the agent as actor).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bundle } from "../../policies/bundle/index.js";
import { createTokenVerifier } from "../../runtime/auth/verifier.js";
import { TEST_CLIENTS, type TestPlatform, startTestPlatform } from "../support/gateway.js";

describe("identity from real tokens", () => {
  let platform: TestPlatform;
  let verify: (token: string) => ReturnType<ReturnType<typeof createTokenVerifier>["verify"]>;
  beforeAll(async () => {
    platform = await startTestPlatform();
    const bundle: Bundle = platform.gateway.active().config.bundle;
    verify = createTokenVerifier(bundle.auth).verify;
  });
  afterAll(async () => platform?.close());

  it("a client-credentials token identifies the agent as both subject and client", async () => {
    const result = await verify(await platform.token("writer"));
    expect(result).toMatchObject({
      ok: true,
      principal: {
        subject: TEST_CLIENTS.writer.clientId,
        clientId: TEST_CLIENTS.writer.clientId,
        scopes: ["mcp:read", "mcp:write"],
        issuer: platform.as.issuer,
      },
    });
  });

  it("an authorization code + PKCE token identifies the user and the CLI", async () => {
    const result = await verify(await platform.userToken("alice", ["mcp:read", "mcp:write"]));
    expect(result).toMatchObject({
      ok: true,
      principal: { subject: "alice", clientId: TEST_CLIENTS.cli.clientId, scopes: ["mcp:read", "mcp:write"] },
    });
  });

  it("a token exchanged by an agent on a user's behalf identifies the user, with the agent as client", async () => {
    const user = await platform.userToken("bob", ["mcp:read"]);
    const exchanged = await platform.as.exchangeToken({
      subjectToken: user,
      clientId: TEST_CLIENTS.delegate.clientId,
      clientSecret: TEST_CLIENTS.delegate.clientSecret,
      audience: platform.url,
    });
    const result = await verify(exchanged.access_token);
    expect(result).toMatchObject({
      ok: true,
      principal: { subject: "bob", clientId: TEST_CLIENTS.delegate.clientId, scopes: ["mcp:read"] },
    });
    const gatewayResponse = await fetch(`${platform.mcpUrl}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${exchanged.access_token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "0" } },
      }),
    });
    expect(gatewayResponse.status).toBe(200);
  });

  it("a refreshed token is accepted like the original", async () => {
    const tokens = await platform.as.obtainTokenWithPkce({
      user: "alice",
      clientId: TEST_CLIENTS.cli.clientId,
      scopes: ["mcp:read"],
    });
    const refreshed = await platform.as.refresh({
      refreshToken: tokens.refresh_token!,
      clientId: TEST_CLIENTS.cli.clientId,
    });
    expect(await verify(refreshed.access_token)).toMatchObject({ ok: true, principal: { subject: "alice" } });
  });

  it("a verified token stays valid from the cache but an expired cached token is refused", async () => {
    let clock = Date.now();
    const bundle = platform.gateway.active().config.bundle;
    const verifier = createTokenVerifier(bundle.auth, { now: () => clock });
    const token = await platform.token("reader");
    expect((await verifier.verify(token)).ok).toBe(true);
    clock += 2 * 3600 * 1000; // past exp (1 h) + skew
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: "token expired" });
  });

  it("a forged token ending like a cached one is verified, not served from the cache", async () => {
    const verifier = createTokenVerifier(platform.gateway.active().config.bundle.auth);
    const token = await platform.token("admin");
    expect((await verifier.verify(token)).ok).toBe(true);
    const [header = "", , signature = ""] = token.split(".");
    const forgedPayload = Buffer.from(
      JSON.stringify({ sub: "mallory", scp: ["mcp:admin"], exp: Math.floor(Date.now() / 1000) + 3600 }),
    ).toString("base64url");
    const forged = `${header}.${forgedPayload}.${signature}`;
    expect(forged.slice(-64)).toBe(token.slice(-64));
    expect(await verifier.verify(forged)).toMatchObject({ ok: false });
  });
});
