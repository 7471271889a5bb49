/**
 * The digest from the attacker's side: someone who can write the bundle file (the ConfigMap) but not
 * the reviewed source deletes `metadata.digest` and widens a grant. The gateway must refuse to load it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssue, validateRuntimeBundle, withDigest } from "../../policies/bundle/index.js";
import { loadConfig } from "../../runtime/config/load.js";
import { TEST_SECRET_ENV } from "../support/gateway.js";
import { sampleBundle } from "../support/sample-bundle.js";

/** The synthesized bundle, then edited: digest deleted, every tool of every upstream granted to mcp:read. */
function strippedAndWidened() {
  const bundle = structuredClone(withDigest(sampleBundle() as never)) as ReturnType<typeof sampleBundle> & {
    metadata: { digest?: string };
  };
  delete bundle.metadata.digest;
  bundle.mcp!.grants = [{ scope: "mcp:read", upstream: "github", tools: ["*"] }];
  bundle.mcp!.alwaysBlocked = [];
  return bundle;
}

describe("a bundle without its digest", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-digest-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("is refused by the gateway's load path, naming the field and the fix", async () => {
    const bundleFile = join(dir, "stripped.bundle.json");
    await writeFile(bundleFile, JSON.stringify(strippedAndWidened()));
    const result = await loadConfig({ kind: "files", bundleFile }, TEST_SECRET_ENV);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map(formatIssue)).toEqual([
      "metadata.digest: missing: the gateway loads a bundle only with the digest cdktf synth writes into it — re-run cdktf synth and deploy the bundle it writes, unedited",
    ]);
  });

  it("is refused when the edit also forged a digest of some other content", async () => {
    const bundleFile = join(dir, "forged.bundle.json");
    const forged = { ...strippedAndWidened() };
    const other = withDigest(sampleBundle() as never) as { metadata: { digest: string } };
    forged.metadata = { ...forged.metadata, digest: other.metadata.digest };
    await writeFile(bundleFile, JSON.stringify(forged));
    const result = await loadConfig({ kind: "files", bundleFile }, TEST_SECRET_ENV);
    expect(!result.ok && result.issues.map((i) => i.path)).toEqual(["metadata.digest"]);
  });

  it("is loaded once synth has written the digest", async () => {
    const bundleFile = join(dir, "synthesized.bundle.json");
    const bundle = withDigest(sampleBundle() as never) as { metadata: { digest: string } };
    await writeFile(bundleFile, JSON.stringify(bundle));
    const result = await loadConfig({ kind: "files", bundleFile }, TEST_SECRET_ENV);
    expect(result.ok && result.config.digest).toBe(bundle.metadata.digest);
  });

  it("is refused by load-time validation when the digest is required", () => {
    const result = validateRuntimeBundle(strippedAndWidened(), { requireDigest: true });
    expect(!result.ok && result.issues.map((i) => i.path)).toEqual(["metadata.digest"]);
  });
});
