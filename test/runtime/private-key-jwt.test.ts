/**
 * private_key_jwt (RFC 7523) for the gateway's own client: token exchange and client credentials against the
 * real oidc-provider, which verifies the assertion with the public key registered on the client. From the
 * attacker's side: an assertion signed with another key, or one replayed, is refused by the server.
 */
import { type JWK, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, TokenRequestError, startAuthServer } from "../../examples/local-platform/auth-server.js";
import {
  type UpstreamCredentials,
  formatIssue as formatBundleIssue,
  validateSynthBundle,
} from "../../policies/bundle/index.js";
import type { SecretReader } from "../../runtime/http/types.js";
import { ClientAssertionSigner, TokenCache, credentialSource, signingKeyFrom } from "../../runtime/mcp/credentials.js";
import { sampleBundle } from "../support/sample-bundle.js";

const AUDIENCE = "http://127.0.0.1:1/gateway";
const UPSTREAM = "https://upstream.example";

async function keyPair(alg: "RS256" | "ES256", kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg, use: "sig" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" },
  };
}

/** The sample bundle with these credentials on its second upstream (mcp.upstreams[1]). */
function sampleBundleWith(credentials: unknown): unknown {
  const bundle = structuredClone(sampleBundle()) as { mcp: { upstreams: { credentials?: unknown }[] } };
  (bundle.mcp.upstreams[1] as { credentials?: unknown }).credentials = credentials;
  return bundle;
}

/** The first problem synth validation finds, as `tollgate validate` prints it. */
function formatIssue(bundle: unknown): string {
  const result = validateSynthBundle(bundle);
  return result.ok ? "(valid)" : formatBundleIssue(result.issues[0] as never);
}

function secretsOf(values: Record<string, string>): SecretReader {
  return {
    read(ref) {
      const value = "env" in ref ? values[ref.env] : undefined;
      if (value === undefined) throw new Error("unexpected secret reference");
      return value;
    },
  };
}

let as: AuthServer;
let gatewayKey: { privateJwk: JWK; publicJwk: JWK };
let ecKey: { privateJwk: JWK; publicJwk: JWK };
let attackerKey: { privateJwk: JWK; publicJwk: JWK };
let aliceToken: string;

beforeAll(async () => {
  gatewayKey = await keyPair("RS256", "gateway-1");
  ecKey = await keyPair("ES256", "gateway-ec");
  // Same kid as the registered key: only the signature can tell them apart.
  attackerKey = await keyPair("RS256", "gateway-1");
  as = await startAuthServer({
    audience: AUDIENCE,
    scopes: ["mcp:read", "mcp:write"],
    exchangeAudiences: [UPSTREAM],
    clients: [
      {
        clientId: "gateway",
        jwks: { keys: [gatewayKey.publicJwk] },
        grants: ["client_credentials", "token_exchange"],
        scopes: ["mcp:read"],
      },
      { clientId: "gateway-ec", jwks: { keys: [ecKey.publicJwk] }, grants: ["client_credentials"] },
      { clientId: "cli", grants: ["authorization_code"] },
    ],
  });
  aliceToken = (await as.obtainTokenWithPkce({ user: "alice", clientId: "cli", scopes: ["mcp:read"] })).access_token;
});

afterAll(async () => {
  await as?.close();
});

const exchange = (privateKey: JWK, clientId = "gateway"): UpstreamCredentials => ({
  mode: "token-exchange",
  tokenUrl: as.tokenEndpoint,
  clientId,
  privateKeyJwt: { privateKey: { env: "GATEWAY_PRIVATE_KEY" } },
  audience: UPSTREAM,
  scopes: ["mcp:read"],
});

describe("private_key_jwt for the gateway's client", () => {
  it("exchanges a user's token with a signed assertion: the token is for the upstream, sub = the user, act = the gateway", async () => {
    const source = credentialSource(
      "slack",
      exchange(gatewayKey.privateJwk),
      secretsOf({ GATEWAY_PRIVATE_KEY: JSON.stringify(gatewayKey.privateJwk) }),
      new TokenCache(),
    );
    const headers = await source(aliceToken);
    const claims = decodeJwt(String(headers.authorization).replace(/^Bearer /, ""));
    expect(claims).toMatchObject({ sub: "alice", aud: UPSTREAM, act: { sub: "gateway" }, scp: ["mcp:read"] });
  });

  it("gets the gateway's own token with client credentials, with an RSA or an EC (ES256) key", async () => {
    for (const [clientId, key] of [
      ["gateway", gatewayKey],
      ["gateway-ec", ecKey],
    ] as const) {
      const source = credentialSource(
        "github",
        {
          mode: "client-credentials",
          tokenUrl: as.tokenEndpoint,
          clientId,
          privateKeyJwt: { privateKey: { env: "GATEWAY_PRIVATE_KEY" } },
          scopes: [],
        },
        secretsOf({ GATEWAY_PRIVATE_KEY: JSON.stringify(key.privateJwk) }),
        new TokenCache(),
      );
      const headers = await source("unused");
      expect(decodeJwt(String(headers.authorization).replace(/^Bearer /, ""))).toMatchObject({ cid: clientId });
    }
  });

  it("accepts the private key as PKCS#8 PEM too", async () => {
    const { createPrivateKey } = await import("node:crypto");
    const pem = createPrivateKey({ key: gatewayKey.privateJwk as never, format: "jwk" })
      .export({ type: "pkcs8", format: "pem" })
      .toString();
    const credentials = exchange(gatewayKey.privateJwk);
    if (credentials.mode !== "token-exchange") throw new Error("unreachable");
    const source = credentialSource(
      "slack",
      { ...credentials, privateKeyJwt: { privateKey: { env: "GATEWAY_PRIVATE_KEY" }, keyId: "gateway-1" } },
      secretsOf({ GATEWAY_PRIVATE_KEY: pem }),
      new TokenCache(),
    );
    expect((await source(aliceToken)).authorization).toMatch(/^Bearer /);
  });

  it("signs a fresh, short-lived assertion per request: iss = sub = client, aud = token endpoint, unique jti", async () => {
    const signer = new ClientAssertionSigner(JSON.stringify(gatewayKey.privateJwk), {}, "test");
    const [a, b] = [await signer.sign("gateway", as.tokenEndpoint), await signer.sign("gateway", as.tokenEndpoint)];
    const [ca, cb] = [decodeJwt(a), decodeJwt(b)];
    expect(ca).toMatchObject({ iss: "gateway", sub: "gateway", aud: as.tokenEndpoint });
    expect(ca.jti).toBeTruthy();
    expect(ca.jti).not.toBe(cb.jti);
    expect((ca.exp ?? 0) - (ca.iat ?? 0)).toBeGreaterThan(0);
    expect((ca.exp ?? 0) - (ca.iat ?? 0)).toBeLessThanOrEqual(300);
    expect(decodeProtectedHeader(a)).toMatchObject({ alg: "RS256", kid: "gateway-1" });
  });
});

describe("private_key_jwt from the attacker's side", () => {
  it("refuses an assertion signed with another key that claims the registered kid", async () => {
    const forged = await new ClientAssertionSigner(JSON.stringify(attackerKey.privateJwk), {}, "test").sign(
      "gateway",
      as.tokenEndpoint,
    );
    const refused = await as
      .exchangeToken({ subjectToken: aliceToken, clientId: "gateway", clientAssertion: forged, audience: UPSTREAM })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenRequestError);
    expect((refused as TokenRequestError).error).toBe("invalid_client");
  });

  it("the gateway with the wrong key gets no token, and its error carries neither the assertion nor the key", async () => {
    const source = credentialSource(
      "slack",
      exchange(attackerKey.privateJwk),
      secretsOf({ GATEWAY_PRIVATE_KEY: JSON.stringify(attackerKey.privateJwk) }),
      new TokenCache(),
    );
    const error = (await source(aliceToken).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/answered 401 .*private_key_jwt/);
    expect(error.message).not.toMatch(/eyJ/);
    expect(error.message).not.toContain(String(attackerKey.privateJwk.d));
  });

  it("refuses a captured assertion replayed (same jti)", async () => {
    const assertion = await new ClientAssertionSigner(JSON.stringify(gatewayKey.privateJwk), {}, "test").sign(
      "gateway",
      as.tokenEndpoint,
    );
    await as.clientCredentials({ clientId: "gateway", clientAssertion: assertion, scopes: ["mcp:read"] });
    const replay = await as
      .clientCredentials({ clientId: "gateway", clientAssertion: assertion, scopes: ["mcp:read"] })
      .catch((error: unknown) => error);
    expect((replay as TokenRequestError).error).toBe("invalid_client");
  });

  it("refuses an assertion for another client than the one it is signed as", async () => {
    const assertion = await new ClientAssertionSigner(JSON.stringify(ecKey.privateJwk), {}, "test").sign(
      "gateway-ec",
      as.tokenEndpoint,
    );
    const refused = await as
      .clientCredentials({ clientId: "gateway", clientAssertion: assertion })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TokenRequestError);
    // oidc-provider notices the client_id/iss mismatch before it looks at the signature.
    expect(["invalid_client", "invalid_request"]).toContain((refused as TokenRequestError).error);
  });
});

describe("the gateway's private key, checked before it signs", () => {
  const where = "mcp.upstreams[slack].credentials";

  it("refuses a public key given as the private key, naming the field and never quoting the key", () => {
    expect(() => signingKeyFrom(JSON.stringify(gatewayKey.publicJwk), {}, where)).toThrow(
      /^mcp\.upstreams\[slack\]\.credentials\.privateKeyJwt\.privateKey: holds a public key/,
    );
    let message = "";
    try {
      signingKeyFrom("not a key at all, but maybe a secret", {}, where);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/privateKeyJwt\.privateKey: expected a private JWK .* or a PKCS#8 PEM/);
    expect(message).not.toContain("maybe a secret");
  });

  it("refuses a keyId or algorithm that does not match the key", () => {
    const text = JSON.stringify(gatewayKey.privateJwk);
    expect(() => signingKeyFrom(text, { keyId: "other" }, where)).toThrow(
      /privateKeyJwt\.keyId: "other" is not the kid/,
    );
    expect(() => signingKeyFrom(text, { algorithm: "ES256" }, where)).toThrow(/privateKeyJwt\.algorithm: ES256/);
    const ec = JSON.stringify({ ...ecKey.privateJwk, alg: undefined });
    expect(() => signingKeyFrom(ec, { algorithm: "RS256" }, where)).toThrow(/cannot sign RS256/);
    expect(signingKeyFrom(ec, {}, where).algorithm).toBe("ES256");
  });
});

describe("bundle validation of the client authentication", () => {
  it("names the field when client credentials have neither a secret nor a private key, or both", () => {
    const neither = sampleBundleWith({
      mode: "client-credentials",
      tokenUrl: "https://as.example/token",
      clientId: "c",
    });
    expect(formatIssue(neither)).toMatch(
      /^mcp\.upstreams\[1\]\.credentials\.privateKeyJwt: client credentials need the client to authenticate: set privateKeyJwt/,
    );
    const both = sampleBundleWith({
      mode: "token-exchange",
      tokenUrl: "https://as.example/token",
      clientId: "c",
      audience: "api://x",
      clientSecret: { env: "SECRET" },
      privateKeyJwt: { privateKey: { env: "KEY" } },
    });
    expect(formatIssue(both)).toMatch(
      /^mcp\.upstreams\[1\]\.credentials\.privateKeyJwt: set clientSecret or privateKeyJwt, not both/,
    );
  });

  it("names the field of a bad algorithm or a private key that is not a secret reference", () => {
    const alg = sampleBundleWith({
      mode: "client-credentials",
      tokenUrl: "https://as.example/token",
      clientId: "c",
      privateKeyJwt: { privateKey: { env: "KEY" }, algorithm: "HS256" },
    });
    expect(formatIssue(alg)).toMatch(
      /^mcp\.upstreams\[1\]\.credentials\.privateKeyJwt\.algorithm: expected one of RS256/,
    );
    const literal = sampleBundleWith({
      mode: "client-credentials",
      tokenUrl: "https://as.example/token",
      clientId: "c",
      privateKeyJwt: { privateKey: "-----BEGIN PRIVATE KEY-----" },
    });
    expect(formatIssue(literal)).toMatch(/^mcp\.upstreams\[1\]\.credentials\.privateKeyJwt\.privateKey: /);
  });

  it("accepts a private key reference with or without keyId and algorithm", () => {
    for (const privateKeyJwt of [
      { privateKey: { env: "KEY" } },
      { privateKey: { file: "/var/run/tollgate/secrets/KEY" }, keyId: "k1", algorithm: "ES256" },
    ]) {
      const bundle = sampleBundleWith({
        mode: "client-credentials",
        tokenUrl: "https://as.example/token",
        clientId: "c",
        privateKeyJwt,
      });
      expect(validateSynthBundle(bundle).ok).toBe(true);
    }
  });
});
