/**
 * The MCP SDK client with its OAuth provider discovers everything from the gateway's 401 and completes
 * 401 → protected resource metadata → authorization server metadata → token → retry on its own.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_CLIENTS, type TestPlatform, startTestPlatform } from "../support/gateway.js";

describe("MCP SDK client OAuth flow against the gateway", () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform();
  });
  afterAll(async () => platform?.close());

  it("a client-credentials agent connects with nothing but the gateway URL and its credentials", async () => {
    const provider = new ClientCredentialsProvider({
      clientId: TEST_CLIENTS.reader.clientId,
      clientSecret: TEST_CLIENTS.reader.clientSecret,
      scope: "mcp:read",
      expectedIssuer: platform.as.issuer,
    });
    const client = new Client({ name: "oauth-agent", version: "0" });
    const transport = new StreamableHTTPClientTransport(new URL(platform.mcpUrl), { authProvider: provider });
    try {
      await client.connect(transport);
      const tools = await client.listTools();
      expect(Array.isArray(tools.tools)).toBe(true);
      const token = provider.tokens()?.access_token;
      expect(token).toBeTypeOf("string");
      expect(decodeJwt(token!)).toMatchObject({
        iss: platform.as.issuer,
        aud: platform.url,
        cid: TEST_CLIENTS.reader.clientId,
        scp: ["mcp:read"],
      });
      // The first attempt was refused for want of a token: the flow really started from the 401.
      expect(platform.audit).toContainEqual(
        expect.objectContaining({ kind: "auth", decision: "deny", reason: "no bearer token" }),
      );
    } finally {
      await client.close();
    }
  });

  it("a client with wrong credentials cannot connect", async () => {
    const provider = new ClientCredentialsProvider({
      clientId: TEST_CLIENTS.reader.clientId,
      clientSecret: "wrong-secret",
      scope: "mcp:read",
      expectedIssuer: platform.as.issuer,
    });
    const client = new Client({ name: "oauth-agent", version: "0" });
    await expect(
      client.connect(new StreamableHTTPClientTransport(new URL(platform.mcpUrl), { authProvider: provider })),
    ).rejects.toThrow();
    await client.close().catch(() => undefined);
  });
});
