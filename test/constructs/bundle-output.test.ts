import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listPlaceholders, validateRuntimeBundle, validateSynthBundle } from "../../policies/bundle/index.js";
import { PlatformTeamStack } from "../../examples/existing-stack/stack.js";
import { MinimalStack } from "../../examples/minimal/stack.js";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";
import { readStackFile, removeSynthDirs, synthApp } from "./synth-helpers.js";

const ROOT = resolve(import.meta.dirname, "../..");

function tollgate(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, "bin/tollgate.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });
}

afterAll(removeSynthDirs);

describe("the emitted gateway bundle", () => {
  const outdir = synthApp((app) => {
    new EnvironmentStack(app, ENVIRONMENTS.dev);
    new EnvironmentStack(app, ENVIRONMENTS.prod);
  });

  it("is written as gateway.bundle.json next to each stack's cdk.tf.json", () => {
    for (const stack of ["tollgate-dev", "tollgate-prod"]) {
      expect(existsSync(join(outdir, "stacks", stack, "cdk.tf.json"))).toBe(true);
      expect(existsSync(join(outdir, "stacks", stack, "gateway.bundle.json"))).toBe(true);
    }
  });

  it("validates, carries provenance and is the ConfigMap's bundle.json byte for byte", () => {
    const text = readStackFile(outdir, "tollgate-prod", "gateway.bundle.json");
    const result = validateSynthBundle(JSON.parse(text));
    expect(result.ok).toBe(true);
    const bundle = JSON.parse(text) as { metadata: Record<string, string> };
    expect(bundle.metadata).toMatchObject({
      environment: "prod",
      stack: "tollgate-prod",
      gateway: "gateway",
      digest: expect.stringMatching(/^sha256:/),
    });
    const tf = JSON.parse(readStackFile(outdir, "tollgate-prod", "cdk.tf.json")) as {
      resource: { kubernetes_config_map: Record<string, { data: Record<string, string> }> };
    };
    expect(Object.values(tf.resource.kubernetes_config_map)[0]?.data["bundle.json"]).toBe(text);
  });

  it("loads in the runtime once Terraform's values replace its placeholders, digest intact", () => {
    const bundle = JSON.parse(readStackFile(outdir, "tollgate-prod", "gateway.bundle.json")) as unknown;
    expect(listPlaceholders(bundle)).toEqual([
      "okta.clients.agent-coding.id",
      "okta.clients.agent-triage.id",
      "okta.clients.agent.id",
      "okta.clients.user.id",
      "okta.discoveryUrl",
      "okta.issuer",
      "okta.jwksUri",
      "okta.tokenUrl",
    ]);
    const issuer = "https://acme.okta.com/oauth2/aus1";
    const values = {
      "okta.issuer": issuer,
      "okta.discoveryUrl": `${issuer}/.well-known/openid-configuration`,
      "okta.jwksUri": `${issuer}/v1/keys`,
      "okta.tokenUrl": `${issuer}/v1/token`,
      "okta.clients.user.id": "0oauser",
      "okta.clients.agent.id": "0oaagent",
      "okta.clients.agent-triage.id": "0oatriage",
      "okta.clients.agent-coding.id": "0oacoding",
    };
    const loaded = validateRuntimeBundle(bundle, { values });
    expect(loaded.ok ? loaded.bundle.auth.issuer : loaded.issues).toBe(issuer);
    const missing = validateRuntimeBundle(bundle, {
      values: { ...values, "okta.issuer": undefined as unknown as string },
    });
    expect(missing.ok).toBe(false);
  });

  it("is accepted by `tollgate validate`, and a corrupted copy is rejected naming the field", () => {
    const file = join(outdir, "stacks", "tollgate-dev", "gateway.bundle.json");
    const ok = tollgate("validate", file);
    expect(ok.stdout + ok.stderr).toContain("valid");
    expect(ok.status).toBe(0);

    const corrupted = JSON.parse(readFileSync(file, "utf8")) as { llm: { routes: { pathPrefix: string }[] } };
    (corrupted.llm.routes[1] as { pathPrefix: string }).pathPrefix = "openai";
    const badFile = join(outdir, "corrupted.bundle.json");
    writeFileSync(badFile, JSON.stringify(corrupted));
    const bad = tollgate("validate", badFile);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/llm\.routes\[1\]\.pathPrefix: expected an absolute path/);
  });

  it("is deterministic, and records the source revision only when CI provides one", () => {
    const saved = {
      GITHUB_SHA: process.env.GITHUB_SHA,
      TOLLGATE_SOURCE_REVISION: process.env.TOLLGATE_SOURCE_REVISION,
    };
    const synthProd = () => {
      const dir = synthApp((app) => new EnvironmentStack(app, ENVIRONMENTS.prod));
      return JSON.parse(readStackFile(dir, "tollgate-prod", "gateway.bundle.json")) as {
        metadata: Record<string, string>;
      };
    };
    try {
      delete process.env.GITHUB_SHA;
      delete process.env.TOLLGATE_SOURCE_REVISION;
      const first = synthProd();
      expect(synthProd()).toEqual(first);
      expect(first.metadata.sourceRevision).toBeUndefined();
      process.env.GITHUB_SHA = "0123456789abcdef0123456789abcdef01234567";
      expect(synthProd().metadata.sourceRevision).toBe("0123456789abcdef0123456789abcdef01234567");
      process.env.TOLLGATE_SOURCE_REVISION = "release-2026.11";
      expect(synthProd().metadata.sourceRevision).toBe("release-2026.11");
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe("examples", () => {
  it("minimal: one LLM route, no MCP, still a valid bundle", () => {
    const outdir = synthApp((app) => new MinimalStack(app));
    const bundle = JSON.parse(readStackFile(outdir, "tollgate-minimal", "gateway.bundle.json")) as {
      mcp?: unknown;
      llm: { routes: unknown[] };
    };
    expect(validateSynthBundle(bundle).ok).toBe(true);
    expect(bundle.mcp).toBeUndefined();
    expect(bundle.llm.routes).toHaveLength(1);
  });

  it("existing-stack: a team's own stack gets its bundle without any extra call, using its Secret and namespace", () => {
    const outdir = synthApp((app) => new PlatformTeamStack(app));
    const bundle = JSON.parse(readStackFile(outdir, "platform-team", "gateway.bundle.json")) as {
      auth: { issuer: string };
    };
    expect(validateSynthBundle(bundle).ok).toBe(true);
    // an existing authorization server's issuer is known at synth: no placeholder needed
    expect(bundle.auth.issuer).toBe("https://acme.okta.com/oauth2/aus1acmeplatform");
    const tf = JSON.parse(readStackFile(outdir, "platform-team", "cdk.tf.json")) as {
      resource: Record<string, Record<string, unknown>>;
      variable?: unknown;
    };
    expect(tf.resource.okta_auth_server).toBeUndefined();
    expect(tf.resource.kubernetes_secret_v1).toBeUndefined();
    // No secret variable: only the agent app's public keys, which private_key_jwt registers on the app.
    expect(Object.keys(tf.variable ?? {})).toEqual(["platform_agents_agent_public_jwks"]);
    expect(Object.keys(tf.resource.kubernetes_namespace_v1 ?? {})).toHaveLength(1);
    const deployment = Object.values(tf.resource.kubernetes_deployment ?? {})[0] as {
      spec: { template: { spec: { container: { env: { value_from?: { secret_key_ref: { name: string } } }[] }[] } } };
    };
    const refs = deployment.spec.template.spec.container[0]?.env.flatMap((e) =>
      e.value_from ? [e.value_from.secret_key_ref.name] : [],
    );
    expect(new Set(refs)).toEqual(new Set(["tollgate-provider-keys"]));
  });
});
