/**
 * private_key_jwt through the real gateway: an MCP SDK client as alice, the gateway exchanging her token (RFC 8693)
 * and fetching its own (client credentials) at the oidc-provider Okta stand-in, authenticated only by assertions
 * signed with its private key. Nothing secret is shared with the authorization server. A gateway holding the wrong
 * key gets no token, and no upstream sees a request.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type JWK, decodeJwt, exportJWK, generateKeyPair } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { BundleInput } from "../../policies/bundle/index.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";
import { type HttpUpstream, startHttpUpstream } from "./mcp-fixtures.js";

const EXCHANGE_AUDIENCE = "http://ledger.test";
const GATEWAY_CLIENT = "tollgate-gateway";

async function keyPair(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" },
  };
}

let ledger: HttpUpstream;
let service: HttpUpstream;
const clients: Client[] = [];
const platforms: TestPlatform[] = [];
let registered: { privateJwk: JWK; publicJwk: JWK };

/** A platform whose gateway signs with `privateJwk`; the authorization server knows only `registered`'s public key. */
async function platformSigningWith(privateJwk: JWK): Promise<TestPlatform> {
  const platform = await startTestPlatform({
    exchangeAudiences: [EXCHANGE_AUDIENCE],
    extraClients: [
      {
        clientId: GATEWAY_CLIENT,
        jwks: { keys: [registered.publicJwk] },
        grants: ["client_credentials", "token_exchange"],
        scopes: ["mcp:read"],
      },
    ],
    env: { GATEWAY_PRIVATE_KEY: JSON.stringify(privateJwk) },
    bundle: (bundle, { issuer }): BundleInput => ({
      ...bundle,
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [
          {
            id: "ledger",
            transport: { type: "streamable-http", url: ledger.url },
            credentials: {
              mode: "token-exchange",
              tokenUrl: `${issuer}/token`,
              clientId: GATEWAY_CLIENT,
              privateKeyJwt: { privateKey: { env: "GATEWAY_PRIVATE_KEY" } },
              audience: EXCHANGE_AUDIENCE,
            },
          },
          {
            id: "service",
            transport: { type: "streamable-http", url: service.url },
            credentials: {
              mode: "client-credentials",
              tokenUrl: `${issuer}/token`,
              clientId: GATEWAY_CLIENT,
              privateKeyJwt: { privateKey: { env: "GATEWAY_PRIVATE_KEY" }, algorithm: "ES256" },
              scopes: ["mcp:read"],
            },
          },
        ],
        grants: [
          { scope: "mcp:read", upstream: "ledger", tools: ["whoami"] },
          { scope: "mcp:read", upstream: "service", tools: ["whoami"] },
        ],
        deny: [],
        alwaysBlocked: [],
      },
    }),
  });
  platforms.push(platform);
  return platform;
}

async function connect(platform: TestPlatform, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(platform.mcpUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "pkjwt-agent", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) =>
  (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("");

beforeAll(async () => {
  registered = await keyPair("gateway-1");
  ledger = await startHttpUpstream();
  service = await startHttpUpstream();
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  for (const p of platforms) await p.close();
  await ledger?.close();
  await service?.close();
});

describe("the gateway authenticates upstream with private_key_jwt", () => {
  it("exchanges alice's token: the upstream gets a token for itself with sub = alice and act = the gateway", async () => {
    const platform = await platformSigningWith(registered.privateJwk);
    const client = await connect(platform, await platform.userToken("alice"));
    const token = textOf(await client.callTool({ name: "ledger__whoami", arguments: {} }));
    expect(decodeJwt(token)).toMatchObject({ sub: "alice", aud: EXCHANGE_AUDIENCE, act: { sub: GATEWAY_CLIENT } });
    const own = textOf(await client.callTool({ name: "service__whoami", arguments: {} }));
    expect(decodeJwt(own)).toMatchObject({ sub: GATEWAY_CLIENT, cid: GATEWAY_CLIENT });
    const audit = JSON.stringify(platform.audit);
    expect(audit).not.toContain(String(registered.privateJwk.d));
    expect(audit).not.toContain("client_assertion");
  });

  it("with a key the authorization server does not know, gets no token and sends the upstream nothing", async () => {
    const stolenKid = await keyPair("gateway-1");
    const platform = await platformSigningWith(stolenKid.privateJwk);
    const before = ledger.authorizations.length;
    const client = await connect(platform, await platform.userToken("alice"));
    const result = await client.callTool({ name: "ledger__whoami", arguments: {} }).catch((error: unknown) => error);
    const failed = result instanceof Error || (result as { isError?: boolean }).isError === true;
    expect(failed).toBe(true);
    expect(ledger.authorizations.slice(before).filter((a) => a !== undefined)).toEqual([]);
    expect(JSON.stringify(platform.audit)).not.toContain(String(stolenKid.privateJwk.d));
  });
});
