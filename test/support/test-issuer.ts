/**
 * An issuer whose signing keys the test holds: a real HTTP server with a discovery document and a JWKS,
 * for tokens a real authorization server would never issue (expired on purpose, duplicate members,
 * odd claim types) but which carry a signature the gateway trusts. Key rotation is one call.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CompactSign, type CryptoKey, type JWK, exportJWK, generateKeyPair } from "jose";

export interface TestIssuer {
  readonly issuer: string;
  /** Signs `payload` (an object, or raw JSON text to smuggle duplicates) with the current key. */
  sign(payload: Record<string, unknown> | string, header?: Record<string, unknown>): Promise<string>;
  /** Adds a new key and signs with it from now on; the JWKS serves both. Returns the new kid. */
  rotate(): Promise<string>;
  /** Signs with a key the JWKS does not (yet) serve; `publish()` then makes it visible. */
  signWithUnpublishedKey(payload: Record<string, unknown>, kid: string): Promise<{ token: string; publish(): void }>;
  readonly jwksRequests: number;
  close(): Promise<void>;
}

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** @param options.port listen here (to bring up an issuer a gateway already points at) @default ephemeral */
export async function startTestIssuer(options: { port?: number } = {}): Promise<TestIssuer> {
  const published: Key[] = [await newKey("k1")];
  let signing = published[0] as Key;
  let jwksRequests = 0;
  let issuer = "";
  const server = createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, token_endpoint: `${issuer}/token` }));
    } else if (req.url === "/jwks") {
      jwksRequests++;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const signWith = (key: Key, payload: Record<string, unknown> | string, header: Record<string, unknown> = {}) => {
    const text = typeof payload === "string" ? payload : JSON.stringify(payload);
    return new CompactSign(new TextEncoder().encode(text))
      .setProtectedHeader({ alg: "RS256", kid: key.kid, ...header })
      .sign(key.privateKey);
  };

  return {
    issuer,
    sign: (payload, header) => signWith(signing, payload, header),
    async rotate() {
      const key = await newKey(`k${published.length + 1}`);
      published.push(key);
      signing = key;
      return key.kid;
    },
    async signWithUnpublishedKey(payload, kid) {
      const key = await newKey(kid);
      const token = await signWith(key, payload);
      return { token, publish: () => void published.push(key) };
    },
    get jwksRequests() {
      return jwksRequests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
