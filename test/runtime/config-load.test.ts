/**
 * Loading a bundle for the runtime: secrets are read at load and a missing one fails the load naming
 * the bundle path and the variable; placeholders are refused unless values resolve them.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { placeholder } from "../../policies/bundle/index.js";
import { loadConfig } from "../../runtime/config/load.js";
import { GatewayStartError, startGateway } from "../../runtime/server/index.js";
import { createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { TEST_SECRET_ENV } from "../support/gateway.js";
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
    const bundle = sampleBundle({ issuer: placeholder("okta.issuer") });
    const bundleFile = join(dir, "bundle.json");
    const valuesFile = join(dir, "values.json");
    await writeFile(bundleFile, JSON.stringify(bundle));
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
