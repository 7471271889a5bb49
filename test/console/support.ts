/**
 * Test support for the console: a console mounted on a real HTTP server with deps built from the sample
 * bundle, and a stand-in issuer whose token endpoint answers whatever token the test signs (to attack the
 * callback with forged, expired or wrong-audience tokens a real authorization server would never issue).
 */
import { createHash } from "node:crypto";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import {
  type Bundle,
  type BundleInput,
  orThrow,
  validateRuntimeBundle,
  withDigest,
} from "../../policies/bundle/index.js";
import { type ConsoleDeps, createConsole, createDecisionRing } from "../../runtime/console/index.js";
import { sampleBundle } from "../support/sample-bundle.js";

export const CONSOLE_CLIENT = "tollgate-console";

export interface StandInIssuer {
  readonly issuer: string;
  /** Signs claims with the key the JWKS serves (`foreign`: with a key it does not). */
  sign(claims: Record<string, unknown>, options?: { foreign?: boolean }): Promise<string>;
  /** The token the token endpoint hands out for the next code. */
  nextToken: string | undefined;
  /** The forms the token endpoint received. */
  readonly tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

async function key(kid: string): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

export async function startStandInIssuer(): Promise<StandInIssuer> {
  const trusted = await key("trusted");
  const foreign = await key("trusted"); // same kid, other key: a forgery
  let issuer = "";
  const tokenRequests: URLSearchParams[] = [];
  const state: { nextToken: string | undefined } = { nextToken: undefined };
  const server = createServer((req, res) => {
    void (async () => {
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
      if (req.url === "/.well-known/openid-configuration")
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
        });
      if (req.url === "/jwks") return json(200, { keys: [trusted.jwk] });
      if (req.url === "/token" && req.method === "POST") {
        tokenRequests.push(new URLSearchParams(await body(req)));
        const token = state.nextToken;
        return token ? json(200, { access_token: token, token_type: "Bearer" }) : json(400, { error: "invalid_grant" });
      }
      res.writeHead(404).end();
    })();
  });
  issuer = `http://127.0.0.1:${await listen(server)}`;
  return {
    issuer,
    tokenRequests,
    get nextToken() {
      return state.nextToken;
    },
    set nextToken(token) {
      state.nextToken = token;
    },
    sign: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: "trusted" })
        .sign((options.foreign ? foreign : trusted).privateKey),
    close: () => close(server),
  };
}

/** The sample bundle for `issuer`, validated as the runtime loads it. */
export function loadBundle(issuer: string, change: (input: BundleInput) => void = () => undefined) {
  const input = sampleBundle({ issuer, publicUrl: "https://gateway.example.com" });
  change(input);
  const withSum = withDigest(input as Parameters<typeof withDigest>[0]);
  const bundle: Bundle = orThrow(validateRuntimeBundle(withSum, { requireDigest: true }));
  return { bundle, digest: (withSum as { metadata: { digest: string } }).metadata.digest };
}

export interface ConsoleServer {
  /** Origin of the admin server, e.g. http://127.0.0.1:1234 */
  readonly origin: string;
  readonly decisions: ReturnType<typeof createDecisionRing>;
  close(): Promise<void>;
}

/**
 * A console on a real HTTP server. The server listens first (the console's URL, hence its redirect URI,
 * needs the port); `deps` is called with that origin.
 */
export async function startConsoleServer(
  deps: (origin: string, decisions: ReturnType<typeof createDecisionRing>) => Omit<ConsoleDeps, "decisions">,
): Promise<ConsoleServer> {
  let handler: ((req: IncomingMessage, res: import("node:http").ServerResponse) => Promise<void>) | undefined;
  const server = createServer((req, res) => {
    if (handler) void handler(req, res);
    else res.writeHead(503).end();
  });
  const origin = `http://127.0.0.1:${await listen(server)}`;
  const decisions = createDecisionRing(100);
  handler = createConsole({ ...deps(origin, decisions), decisions });
  return { origin, decisions, close: () => close(server) };
}

/** PKCE S256 of a verifier, as the authorization server checks it. */
export const challengeOf = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");
