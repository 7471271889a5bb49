/**
 * RFC 9728 protected resource metadata, the authorization server metadata mirror, and CORS: what a
 * client (or a browser) discovers before it has a token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestPlatform, initializeRequest, mcpHeaders, startTestPlatform } from "../support/gateway.js";

describe("protected resource metadata and discovery", () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform({
      bundle: (b) => ({ ...b, server: { ...b.server, corsOrigins: ["https://app.example"] } }),
    });
  });
  afterAll(async () => platform?.close());

  it("serves the metadata at the MCP path's well-known URL and at the root", async () => {
    for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const response = await fetch(`${platform.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        resource: `${platform.url}/mcp`,
        authorization_servers: [platform.as.issuer],
        scopes_supported: ["mcp:read", "mcp:write", "mcp:admin"],
        bearer_methods_supported: ["header"],
      });
    }
  });

  it("points the 401 challenge at a metadata document that names the issuer of valid tokens", async () => {
    const challenge =
      (await fetch(platform.mcpUrl, { method: "POST", headers: mcpHeaders(), body: initializeRequest() })).headers.get(
        "www-authenticate",
      ) ?? "";
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${platform.url}/.well-known/oauth-protected-resource/mcp`);
    const metadata = (await (await fetch(metadataUrl!)).json()) as { authorization_servers: string[] };
    expect(metadata.authorization_servers).toEqual([platform.as.issuer]);
  });

  it("mirrors the authorization server metadata for clients that look on the resource's origin", async () => {
    const response = await fetch(`${platform.url}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(platform.as.issuer);
    expect(metadata.token_endpoint).toBe(platform.as.tokenEndpoint);
  });

  it("does not serve metadata for paths it does not protect", async () => {
    expect((await fetch(`${platform.url}/.well-known/oauth-protected-resource/other`)).status).toBe(404);
  });

  it("answers a CORS preflight from an allowed origin with the MCP methods and headers", async () => {
    const response = await fetch(platform.mcpUrl, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, mcp-session-id",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(response.headers.get("access-control-allow-headers")).toMatch(/Mcp-Session-Id/);
    expect(response.headers.get("access-control-allow-methods")).toMatch(/DELETE/);
  });

  it("refuses a CORS preflight from an origin that is not configured", async () => {
    const response = await fetch(platform.mcpUrl, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a page from a foreign origin even with a valid token (DNS rebinding)", async () => {
    const token = await platform.token("reader");
    const response = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { ...mcpHeaders(token), origin: "http://evil.example" },
      body: initializeRequest(),
    });
    expect(response.status).toBe(403);
    const allowed = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { ...mcpHeaders(token), origin: "https://app.example" },
      body: initializeRequest(),
    });
    expect(allowed.status).toBe(200);
  });

  it("lets a browser client read Mcp-Session-Id and WWW-Authenticate", async () => {
    const unauthorized = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { ...mcpHeaders(), origin: "https://app.example" },
      body: initializeRequest(),
    });
    expect(unauthorized.status).toBe(401);
    const exposed = unauthorized.headers.get("access-control-expose-headers") ?? "";
    expect(exposed).toContain("WWW-Authenticate");
    expect(exposed).toContain("Mcp-Session-Id");
  });
});
