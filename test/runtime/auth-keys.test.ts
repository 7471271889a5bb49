/**
 * The issuer's keys from the attacker's side: a withdrawn key must stop vouching for tokens already
 * verified, a slow issuer must not stall tokens whose key is known, and an issuer document of any size
 * must not be read whole. The issuer is a real HTTP server whose JWKS the test controls.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CompactSign, type CryptoKey, type JWK, exportJWK, generateKeyPair } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { type AuthConfig, RuntimeBundleSchema, withDigest } from "../../policies/bundle/index.js";
import { createTokenVerifier } from "../../runtime/auth/verifier.js";
import { authTestBundle } from "../support/gateway.js";

const AUDIENCE = "https://gateway.test";

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** What the JWKS endpoint does with the next requests. */
type JwksBehaviour =
  | { readonly kind: "serve" }
  /** Holds every JWKS request open until `release()`. */
  | { readonly kind: "hang" }
  /** Serves the real keys padded with `padBytes` of junk, with or without a content-length. */
  | { readonly kind: "oversized"; readonly padBytes: number; readonly chunked: boolean };

interface ControlledIssuer {
  readonly issuer: string;
  /** Publishes `key` in the JWKS. */
  publish(key: SigningKey): void;
  /** Removes `key` from the JWKS (a compromised key being revoked). */
  withdraw(key: SigningKey): void;
  behave(behaviour: JwksBehaviour): void;
  /** JWKS requests answered, those held open, and those the gateway gave up on while held. */
  readonly served: number;
  readonly held: number;
  readonly abandoned: number;
  /** Resolves when a JWKS request is being held. */
  nextHeld(): Promise<void>;
  /** Answers the held requests. */
  release(): void;
  token(key: SigningKey, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

async function startControlledIssuer(): Promise<ControlledIssuer> {
  let published: SigningKey[] = [];
  let behaviour: JwksBehaviour = { kind: "serve" };
  let served = 0;
  let abandoned = 0;
  let held: ServerResponse[] = [];
  let heldWaiters: (() => void)[] = [];
  let issuer = "";
  const keySet = () => JSON.stringify({ keys: published.map((k) => k.publicJwk) });
  const answer = (res: ServerResponse) => {
    served++;
    res.writeHead(200, { "content-type": "application/json" }).end(keySet());
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/.well-known/openid-configuration") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      return;
    }
    if (req.url !== "/jwks") return void res.writeHead(404).end();
    if (behaviour.kind === "serve") return answer(res);
    if (behaviour.kind === "hang") {
      held.push(res);
      res.once("close", () => {
        if (!res.writableEnded) abandoned++;
      });
      for (const w of heldWaiters.splice(0)) w();
      return;
    }
    // A valid key set with a junk member: parseable and usable if read whole.
    const body = `{"junk":"${"x".repeat(behaviour.padBytes)}",${keySet().slice(1)}`;
    served++;
    res.writeHead(200, {
      "content-type": "application/json",
      ...(behaviour.chunked ? {} : { "content-length": Buffer.byteLength(body) }),
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    publish: (key) => void (published = [...published, key]),
    withdraw: (key) => void (published = published.filter((k) => k.kid !== key.kid)),
    behave: (b) => void (behaviour = b),
    get served() {
      return served;
    },
    get held() {
      return held.length;
    },
    get abandoned() {
      return abandoned;
    },
    nextHeld: () => new Promise<void>((resolve) => heldWaiters.push(resolve)),
    release() {
      const waiting = held;
      held = [];
      for (const res of waiting) answer(res);
    },
    token(key, claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: issuer,
        aud: AUDIENCE,
        sub: "alice",
        cid: "agent",
        scp: ["mcp:read"],
        iat: now,
        exp: now + 600,
        ...claims,
      };
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "RS256", kid: key.kid })
        .sign(key.privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function authConfig(issuer: string, auth: Record<string, unknown> = {}): AuthConfig {
  const bundle = authTestBundle(issuer, AUDIENCE);
  return RuntimeBundleSchema.parse(withDigest({ ...bundle, auth: { ...bundle.auth, ...auth } } as never)).auth;
}

describe("issuer keys seen from the attacker's side", () => {
  let issuer: ControlledIssuer | undefined;
  afterEach(async () => {
    issuer?.release();
    await issuer?.close();
    issuer = undefined;
  });

  it("refuses a cached token once its signing key is withdrawn and the gateway has seen the new key set", async () => {
    issuer = await startControlledIssuer();
    const compromised = await signingKey("k1");
    issuer.publish(compromised);
    const verifier = createTokenVerifier(authConfig(issuer.issuer));
    const stolen = await issuer.token(compromised);
    expect(await verifier.verify(stolen)).toMatchObject({ ok: true });
    expect(verifier.verify(stolen)).toMatchObject({ ok: true }); // answered from the cache, synchronously

    // The issuer revokes the key: it withdraws k1 and signs with k2 from now on.
    const replacement = await signingKey("k2");
    issuer.publish(replacement);
    issuer.withdraw(compromised);
    // The first token signed with k2 makes the gateway fetch the new key set.
    expect(await verifier.verify(await issuer.token(replacement))).toMatchObject({ ok: true });

    expect(await verifier.verify(stolen)).toEqual({ ok: false, reason: "unknown signing key" });
  });

  it("refuses a cached token once its key is withdrawn and the keys in memory went stale", async () => {
    issuer = await startControlledIssuer();
    const compromised = await signingKey("k1");
    issuer.publish(compromised);
    let clock = Date.now();
    const verifier = createTokenVerifier(authConfig(issuer.issuer, { jwksCacheMaxAgeSeconds: 60 }), {
      now: () => clock,
    });
    const stolen = await issuer.token(compromised, { exp: Math.floor(clock / 1000) + 3600 });
    expect(await verifier.verify(stolen)).toMatchObject({ ok: true });

    issuer.publish(await signingKey("k2"));
    issuer.withdraw(compromised);
    clock += 61_000;
    // This request is still answered from memory while the refresh it started runs in the background.
    expect(verifier.verify(stolen)).toMatchObject({ ok: true });
    await verifier.keys.refreshIfStale();

    expect(await verifier.verify(stolen)).toEqual({ ok: false, reason: "unknown signing key" });
  });

  it("keeps answering a repeated token from the cache while the key set is unchanged", async () => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    const verifier = createTokenVerifier(authConfig(issuer.issuer));
    const token = await issuer.token(key);
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    const result = verifier.verify(token);
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toMatchObject({ ok: true });
    expect(issuer.served).toBe(1);
  });

  it("verifies a token once for the requests that bring it at the same time", async () => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    const verifier = createTokenVerifier(authConfig(issuer.issuer));
    const token = await issuer.token(key);
    const results = await Promise.all(Array.from({ length: 8 }, () => verifier.verify(token)));
    expect(results[0]).toMatchObject({ ok: true });
    // One verification answered all eight: each would have built its own principal.
    for (const result of results) expect(result).toBe(results[0]);
  });

  it("does not let a forged token share the verification of the real one it ends like", async () => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    const verifier = createTokenVerifier(authConfig(issuer.issuer));
    const real = await issuer.token(key, { sub: "alice" });
    // Another subject under alice's signature: the same last characters, which key the verified-token cache.
    const [header, payload, signature] = real.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: "admin" })).toString("base64url");
    const forged = `${header}.${forgedPayload}.${signature}`;
    const [realResult, forgedResult] = await Promise.all([verifier.verify(real), verifier.verify(forged)]);
    expect(realResult).toMatchObject({ ok: true, principal: { subject: "alice" } });
    expect(forgedResult).toEqual({ ok: false, reason: "bad signature" });
    // And while the real one is cached.
    expect(await verifier.verify(forged)).toEqual({ ok: false, reason: "bad signature" });
  });

  it("does not make a token whose key is in memory wait for a slow issuer", async () => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    let clock = Date.now();
    const verifier = createTokenVerifier(authConfig(issuer.issuer, { jwksCacheMaxAgeSeconds: 60 }), {
      now: () => clock,
      timeoutMs: 3000,
    });
    expect(await verifier.verify(await issuer.token(key))).toMatchObject({ ok: true });

    issuer.behave({ kind: "hang" });
    clock += 61_000;
    const held = issuer.nextHeld();
    const fresh = await issuer.token(key, { sub: "bob" });
    expect(await verifier.verify(fresh)).toMatchObject({ ok: true, principal: { subject: "bob" } });
    await held;
    // Verified while the refresh it started is still held by the issuer, not after giving up on it.
    expect(issuer.held).toBe(1);
    expect(issuer.abandoned).toBe(0);
  });

  it("lets only a token with an unknown kid wait for the issuer, bounded by the fetch timeout", async () => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    const verifier = createTokenVerifier(authConfig(issuer.issuer), { timeoutMs: 200 });
    expect(await verifier.verify(await issuer.token(key))).toMatchObject({ ok: true });

    issuer.behave({ kind: "hang" });
    const unknown = await signingKey("k9");
    expect(await verifier.verify(await issuer.token(unknown))).toEqual({
      ok: false,
      reason: "token could not be verified",
    });
    expect(await verifier.verify(await issuer.token(key, { sub: "carol" }))).toMatchObject({ ok: true });
  });

  it.each([
    { chunked: false, what: "declares its size" },
    { chunked: true, what: "is sent without a content-length" },
  ])("does not use a key set over the size cap that $what", async ({ chunked }) => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    issuer.behave({ kind: "oversized", padBytes: 4 * 1024 * 1024, chunked });
    const verifier = createTokenVerifier(authConfig(issuer.issuer));
    expect(await verifier.verify(await issuer.token(key))).toEqual({
      ok: false,
      reason: "token could not be verified",
    });
    expect(verifier.keys.loaded).toBe(false);
  });

  it("uses a key set under the size cap even with padding", async () => {
    issuer = await startControlledIssuer();
    const key = await signingKey("k1");
    issuer.publish(key);
    issuer.behave({ kind: "oversized", padBytes: 8 * 1024, chunked: true });
    const verifier = createTokenVerifier(authConfig(issuer.issuer));
    expect(await verifier.verify(await issuer.token(key))).toMatchObject({ ok: true });
  });
});

describe("an oversized discovery document", () => {
  it("is not read whole: discovery fails and tokens are refused", async () => {
    let issuer = "";
    const server = createServer((req, res) => {
      if (req.url === "/.well-known/openid-configuration") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(`{"issuer":"${issuer}","jwks_uri":"${issuer}/jwks","junk":"${"x".repeat(2 * 1024 * 1024)}"}`);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const verifier = createTokenVerifier(authConfig(issuer, { maxIssuerDocumentBytes: 64 * 1024 }));
      await expect(verifier.keys.load()).rejects.toThrow(/larger than 65536 bytes \(auth\.maxIssuerDocumentBytes\)/);
      expect(await verifier.keys.metadata()).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
