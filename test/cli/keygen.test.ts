/** `tollgate keygen`: a usable private_key_jwt key pair, the private half only in a 0600 file. */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JWK, SignJWT, importJWK, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollgate-keygen-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function signAndVerify(privateJwk: JWK, publicJwk: JWK): Promise<void> {
  const alg = String(publicJwk.alg);
  const jwt = await new SignJWT({ sub: "agent" })
    .setProtectedHeader({ alg, kid: String(publicJwk.kid) })
    .sign(await importJWK(privateJwk, alg));
  const { payload } = await jwtVerify(jwt, await importJWK(publicJwk, alg));
  expect(payload.sub).toBe("agent");
}

describe("tollgate keygen", () => {
  for (const alg of ["RS256", "ES256"] as const) {
    it(`writes a ${alg} private JWK with mode 0600 and prints the matching public JWK with its kid`, async () => {
      const out = join(dir, "agent.private.jwk.json");
      const run = await runCli(["keygen", "--out", out, "--alg", alg]);
      expect(run.code).toBe(0);
      expect((await stat(out)).mode & 0o777).toBe(0o600);
      const publicJwk = JSON.parse(run.stdout) as JWK;
      const privateJwk = JSON.parse(await readFile(out, "utf8")) as JWK;
      expect(publicJwk).toMatchObject({ alg, use: "sig", kty: alg === "RS256" ? "RSA" : "EC" });
      expect(publicJwk.kid).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(publicJwk.d).toBeUndefined();
      expect(privateJwk).toMatchObject({ kid: publicJwk.kid, alg });
      expect(privateJwk.d).toBeTruthy();
      expect(run.stdout).not.toContain(String(privateJwk.d));
      expect(run.stderr).not.toContain(String(privateJwk.d));
      await signAndVerify(privateJwk, publicJwk);
    });
  }

  it("uses the --kid it is given", async () => {
    const run = await runCli(["keygen", "--out", join(dir, "k.json"), "--kid", "gateway-2026-12"]);
    expect(JSON.parse(run.stdout)).toMatchObject({ kid: "gateway-2026-12" });
  });

  it("refuses to replace an existing key file unless --force", async () => {
    const out = join(dir, "agent.private.jwk.json");
    await writeFile(out, "the key already registered\n");
    const refused = await runCli(["keygen", "--out", out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exists: pass --force/);
    expect(refused.stdout).toBe("");
    expect(await readFile(out, "utf8")).toBe("the key already registered\n");
    const forced = await runCli(["keygen", "--out", out, "--force"]);
    expect(forced.code).toBe(0);
    expect(JSON.parse(await readFile(out, "utf8"))).toMatchObject({ kid: JSON.parse(forced.stdout).kid });
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it("prints the private key only when asked", async () => {
    const run = await runCli(["keygen", "--out", join(dir, "k.json"), "--print-private"]);
    const [publicLine, privateLine] = run.stdout.trim().split("\n");
    expect(JSON.parse(String(publicLine)).d).toBeUndefined();
    expect(JSON.parse(String(privateLine)).d).toBeTruthy();
  });

  it("answers bad usage with exit 2 and says what to fix", async () => {
    expect(await runCli(["keygen"])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--out <file> is required/),
    });
    const alg = await runCli(["keygen", "--out", join(dir, "k.json"), "--alg", "HS256"]);
    expect(alg).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--alg: expected RS256 or ES256, got "HS256"/),
    });
    const kid = await runCli(["keygen", "--out", join(dir, "k.json"), "--kid", "a b"]);
    expect(kid.code).toBe(2);
    const help = await runCli(["keygen", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: tollgate keygen/);
    for (const flag of ["--out", "--alg", "--kid", "--force", "--print-private", "exit codes:"])
      expect(help.stdout).toContain(flag);
    expect((await runCli(["--help"])).stdout).toContain("keygen --out");
  });
});
