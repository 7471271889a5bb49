/**
 * Loading a bundle for the runtime: secrets are read at load and a missing one fails the load naming
 * the bundle path and the variable; placeholders are refused unless values resolve them. A running
 * `tollgate serve` reloads its bundle file when it is replaced, and keeps the running one when the
 * replacement is invalid.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BundleInput, placeholder, withDigest } from "../../policies/bundle/index.js";
import { loadConfig } from "../../runtime/config/load.js";
import { GatewayStartError, startGateway } from "../../runtime/server/index.js";
import { createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { TEST_SECRET_ENV, authTestBundle, freePort } from "../support/gateway.js";
import { sampleBundle } from "../support/sample-bundle.js";

describe("loading a bundle", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-config-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("fails when a referenced environment variable is unset, naming the bundle path and the variable", async () => {
    const result = await loadConfig(
      { kind: "inline", bundle: sampleBundle() },
      { ...TEST_SECRET_ENV, GITHUB_TOKEN: undefined },
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues).toEqual([
      expect.objectContaining({
        path: "mcp.upstreams[1].credentials.value",
        message: "environment variable GITHUB_TOKEN is not set",
      }),
    ]);
  });

  it("refuses to start the gateway on a missing secret, and the error never holds a secret value", async () => {
    const error = await startGateway({
      source: { kind: "inline", bundle: sampleBundle() },
      port: 0,
      env: { OPENAI_API_KEY: "sk-test-should-not-appear" },
      audit: createMemoryAuditLog(),
      log: () => undefined,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayStartError);
    expect((error as Error).message).toContain("ANTHROPIC_API_KEY");
    expect((error as Error).message).not.toContain("sk-test-should-not-appear");
  });

  it("reads secrets from mounted files, and a reader returns them by reference", async () => {
    const secretFile = join(dir, "openai-key");
    await writeFile(secretFile, "file-secret-value\n");
    const bundle = sampleBundle();
    bundle.llm!.routes![0]!.providers[0]!.apiKey = { file: secretFile };
    const result = await loadConfig({ kind: "inline", bundle }, TEST_SECRET_ENV);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.config.secrets.read({ file: secretFile })).toBe("file-secret-value");
  });

  it("names the file when a mounted secret is missing", async () => {
    const bundle = sampleBundle();
    bundle.llm!.routes![0]!.providers[0]!.apiKey = { file: join(dir, "absent") };
    const result = await loadConfig({ kind: "inline", bundle }, TEST_SECRET_ENV);
    expect(!result.ok && result.issues[0]).toMatchObject({
      path: "llm.routes[0].providers[0].apiKey",
      message: expect.stringContaining("absent"),
    });
  });

  it("refuses an unresolved apply-time placeholder, and accepts it once values.json supplies it", async () => {
    const bundle = withDigest(sampleBundle({ issuer: placeholder("okta.issuer") }));
    const bundleFile = join(dir, "bundle.json");
    const valuesFile = join(dir, "values.json");
    await writeFile(bundleFile, JSON.stringify(withDigest(bundle)));
    const unresolved = await loadConfig({ kind: "files", bundleFile }, TEST_SECRET_ENV);
    expect(!unresolved.ok && unresolved.issues.map((i) => i.path)).toContain("auth.issuer");

    await writeFile(valuesFile, JSON.stringify({ "okta.issuer": "https://example.okta.com/oauth2/aus9" }));
    const resolved = await loadConfig({ kind: "files", bundleFile, valuesFile }, TEST_SECRET_ENV);
    expect(resolved.ok && resolved.config.bundle.auth.issuer).toBe("https://example.okta.com/oauth2/aus9");
  });

  it("changes the fingerprint when a mounted secret changes, so a reload picks it up", async () => {
    const secretFile = join(dir, "rotating-key");
    await writeFile(secretFile, "first");
    const bundle = sampleBundle();
    bundle.llm!.routes![0]!.providers[0]!.apiKey = { file: secretFile };
    const first = await loadConfig({ kind: "inline", bundle }, TEST_SECRET_ENV);
    await writeFile(secretFile, "second");
    const second = await loadConfig({ kind: "inline", bundle }, TEST_SECRET_ENV);
    expect(first.ok && second.ok && first.fingerprint !== second.fingerprint).toBe(true);
  });
});

/** A `tollgate serve` child process, with what it has written so far on each stream. */
class ServeProcess {
  readonly output = { stdout: "", stderr: "" };
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessByStdio<null, Readable, Readable>) {
    for (const stream of ["stdout", "stderr"] as const) {
      child[stream].on("data", (chunk: Buffer) => {
        this.output[stream] += chunk.toString();
        for (const wake of this.waiters) wake();
      });
    }
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }

  /**
   * Resolves with the first match of `pattern` in `stream` after `from` characters. Fails with what the
   * process wrote if it exits first or nothing matches within `withinMs` (a bound, so a missing reload fails
   * with its output instead of the test timeout).
   */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp, from = 0, withinMs = 10_000): Promise<RegExpExecArray> {
    return new Promise((resolvePromise, reject) => {
      const fail = (why: string) => {
        this.waiters.delete(check);
        clearTimeout(timer);
        reject(
          new Error(`tollgate serve ${why} before ${stream} matched ${pattern}:\n${this.output[stream].slice(from)}`),
        );
      };
      const check = () => {
        const match = pattern.exec(this.output[stream].slice(from));
        if (!match) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolvePromise(match);
      };
      const timer = setTimeout(() => fail(`wrote nothing matching for ${withinMs} ms`), withinMs);
      this.waiters.add(check);
      void this.exited.then((code) => fail(`exited (${code})`));
      check();
    });
  }
}

describe("tollgate serve reloads a replaced bundle file", () => {
  let dir: string;
  let bundleFile: string;
  let serve: ServeProcess;
  let url: string;
  let bundle: BundleInput;

  /** Replaces the bundle file the way a ConfigMap update does: a new file (as synth writes it) renamed over the old one. */
  const replaceBundle = async (content: BundleInput) => {
    const next = join(dir, "next-bundle.json");
    await writeFile(next, JSON.stringify(withDigest(content)));
    await rename(next, bundleFile);
  };
  const scopesServed = async () =>
    ((await (await fetch(`${url}/.well-known/oauth-protected-resource`)).json()) as { scopes_supported: string[] })
      .scopes_supported;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-serve-reload-"));
    bundleFile = join(dir, "bundle.json");
    url = `http://127.0.0.1:${await freePort()}`;
    // The issuer is never contacted: these checks read the protected-resource metadata, which needs no token.
    bundle = authTestBundle("http://127.0.0.1:9/issuer", url);
    await writeFile(bundleFile, JSON.stringify(withDigest(bundle)));
    serve = new ServeProcess(
      spawn(
        process.execPath,
        [resolve("bin/tollgate.mjs"), "serve", "--bundle", bundleFile, "--port", new URL(url).port],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } },
      ),
    );
    await serve.waitFor("stderr", /listening on/);
  }, 60_000);

  afterAll(async () => {
    if (serve && serve.child.exitCode === null) {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("serves a valid replacement, then keeps it when the next one is invalid, logging which field is wrong", async () => {
    expect(await scopesServed()).toEqual(["mcp:read", "mcp:write", "mcp:admin"]);

    const auditBefore = serve.output.stdout.length;
    await replaceBundle({
      ...bundle,
      protectedResource: { ...bundle.protectedResource, scopesSupported: ["mcp:read"] },
    });
    await serve.waitFor("stdout", /"kind":"config","decision":"allow"[^\n]*reloaded/, auditBefore);
    expect(await scopesServed()).toEqual(["mcp:read"]);

    const logBefore = serve.output.stderr.length;
    await replaceBundle({ ...bundle, auth: { ...bundle.auth, audiences: [] } });
    const [rejection] = await serve.waitFor("stderr", /reload of .* rejected[^\n]*\n(?: {2}- [^\n]*\n)+/, logBefore);
    expect(rejection).toContain(bundleFile);
    expect(rejection).toMatch(/^ {2}- auth\.audiences: /m);
    expect(await scopesServed()).toEqual(["mcp:read"]);
    expect(serve.child.exitCode).toBeNull();
  }, 30_000);
});
