/**
 * `tollgate keygen`: a key pair for `private_key_jwt` client authentication (RFC 7523), the way the gateway
 * authenticates its Okta agent app without a client secret.
 *
 *   npx tollgate keygen --out agent.private.jwk.json > agent.public.jwk.json
 *
 * The private JWK goes to `--out`, created with mode 0600 (and never to stdout unless `--print-private`); the
 * public JWK, with its `kid`, goes to stdout for the operator to register on the app. Nothing here is secret
 * until the file exists, so a failed run leaves no half-written key behind.
 */
import { chmod, open, rm } from "node:fs/promises";
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { parseCommandArgs } from "./args.js";

const ALGORITHMS = ["RS256", "ES256"] as const;
type KeygenAlgorithm = (typeof ALGORITHMS)[number];
/** RSA modulus: Okta's minimum for private_key_jwt keys. */
const RSA_BITS = 2048;

const USAGE = `usage: tollgate keygen --out <private.jwk.json> [--alg RS256|ES256] [--kid <key id>] [--force] [--print-private]

A key pair for private_key_jwt: the gateway signs its token requests with the private key, Okta (or any
OAuth server) checks them with the public key registered on the client. No client secret exists.
  --out <file>        write the private JWK here, mode 0600; an existing file is refused unless --force
  --alg RS256|ES256   RS256 (RSA ${RSA_BITS}) or ES256 (EC P-256); default RS256
  --kid <key id>      the key id; default: the public key's RFC 7638 thumbprint
  --force             replace an existing --out file
  --print-private     also print the private JWK to stdout (to pipe it into a secret store); never the default
stdout: the public JWK (kid, alg, use "sig"), one line of JSON, e.g. for the stack's agent public key variable
exit codes: 0 key pair written, 1 the file exists or cannot be written, 2 usage`;

export async function keygenCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    "keygen",
    args,
    {
      out: { type: "string" },
      alg: { type: "string", default: "RS256" },
      kid: { type: "string" },
      force: { type: "boolean", default: false },
      "print-private": { type: "boolean", default: false },
    },
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const usageError = (message: string) => {
    console.error(`tollgate keygen: ${message}\n\n${USAGE}`);
    return 2;
  };
  if (positionals.length > 0) return usageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const algorithm = ALGORITHMS.find((a) => a === values.alg);
  if (!algorithm) return usageError(`--alg: expected RS256 or ES256, got ${JSON.stringify(values.alg)}`);
  if (values.kid !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(values.kid))
    return usageError(`--kid: expected 1–64 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(values.kid)}`);
  if (!values.out)
    return usageError("--out <file> is required: the private key is written to a file, not the terminal");

  const { privateJwk, publicJwk } = await keyPair(algorithm, values.kid);
  try {
    await writePrivate(values.out, `${JSON.stringify(privateJwk)}\n`, values.force);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(
      code === "EEXIST"
        ? `tollgate keygen: ${values.out} exists: pass --force to replace it (the key registered for it stops working)`
        : `tollgate keygen: cannot write ${values.out} (${code ?? (error as Error).message})`,
    );
    return 1;
  }
  console.log(JSON.stringify(publicJwk));
  if (values["print-private"]) console.log(JSON.stringify(privateJwk));
  console.error(
    `tollgate keygen: private key (kid ${publicJwk.kid}) written to ${values.out} with mode 0600; the public key is on stdout. Register the public key on the client, give the private key to the gateway as a secret.`,
  );
  return 0;
}

interface KeyPair {
  readonly privateJwk: Record<string, unknown> & { kid: string };
  readonly publicJwk: Record<string, unknown> & { kid: string };
}

async function keyPair(algorithm: KeygenAlgorithm, kid: string | undefined): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === "RS256" ? { modulusLength: RSA_BITS } : {}),
  });
  const publicPart = await exportJWK(publicKey);
  const keyId = kid ?? (await calculateJwkThumbprint(publicPart));
  const meta = { kid: keyId, alg: algorithm, use: "sig" };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...publicPart, ...meta },
  };
}

/** Creates the file with mode 0600 from the start: the key is never readable by others, not even briefly. */
async function writePrivate(path: string, text: string, force: boolean): Promise<void> {
  if (force) await rm(path, { force: true });
  const file = await open(path, "wx", 0o600);
  try {
    await file.writeFile(text, "utf8");
  } finally {
    await file.close();
  }
  await chmod(path, 0o600);
}
