import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bundleJsonSchema,
  computeDigest,
  formatIssue,
  placeholder,
  validateRuntimeBundle,
  validateSynthBundle,
  withDigest,
} from "../../policies/bundle/index.js";
import { sampleBundle } from "../support/sample-bundle.js";

const messages = (result: { ok: boolean; issues?: readonly { path: string; message: string; fix?: string }[] }) =>
  result.ok ? [] : (result.issues ?? []).map((i) => formatIssue(i as never));

describe("bundle schema", () => {
  it("accepts the sample bundle at synth and at load, filling defaults", () => {
    const synth = validateSynthBundle(sampleBundle());
    expect(synth.ok).toBe(true);
    const runtime = validateRuntimeBundle(sampleBundle());
    expect(runtime.ok && runtime.bundle.auth.algorithms).toEqual(["RS256"]);
    expect(runtime.ok && runtime.bundle.mcp?.upstreams[0]?.credentials).toEqual({ mode: "none" });
  });

  it("names the field, what was expected, what was found and where to fix it", () => {
    const bundle = sampleBundle() as any;
    bundle.mcp.upstreams[1].transport.url = "ftp://x";
    const result = validateSynthBundle(bundle);
    expect(messages(result)).toEqual([
      'mcp.upstreams[1].transport.url: expected an http(s) URL, got "ftp://x" — set GatewayRoute.mcp({ url }) or GatewayRoute.mcp({ command })',
    ]);
  });

  it("rejects unknown fields and unknown apiVersions instead of ignoring them", () => {
    const bundle = sampleBundle() as any;
    bundle.auth.isuer = "typo";
    bundle.apiVersion = "tollgate.dev/v9";
    const text = messages(validateSynthBundle(bundle)).join("\n");
    expect(text).toContain('auth: unknown field "isuer"');
    expect(text).toContain("apiVersion: unknown apiVersion");
  });

  it("allows placeholders only in apply-time fields at synth, and none at load", () => {
    const bundle = sampleBundle({ issuer: placeholder("okta.issuer") }) as any;
    expect(validateSynthBundle(bundle).ok).toBe(true);
    const unresolved = validateRuntimeBundle(bundle);
    expect(messages(unresolved).join("\n")).toContain("auth.issuer: placeholder {{apply:okta.issuer}} has no value");
    const resolved = validateRuntimeBundle(bundle, { values: { "okta.issuer": "https://idp.example.com/oauth2/x" } });
    expect(resolved.ok && resolved.bundle.auth.issuer).toBe("https://idp.example.com/oauth2/x");

    const misplaced = sampleBundle() as any;
    misplaced.mcp.grants[0].scope = placeholder("okta.scope");
    expect(messages(validateSynthBundle(misplaced)).join("\n")).toContain(
      "mcp.grants[0].scope: apply-time placeholders are only allowed",
    );
  });

  it("refuses a secret literal anywhere in the bundle, without echoing it", () => {
    const bundle = sampleBundle() as any;
    const key = `sk-proj-${"a1B2".repeat(10)}`;
    bundle.llm.routes[0].providers[0].modelMap = { "gpt-4o": key };
    const text = messages(validateSynthBundle(bundle)).join("\n");
    expect(text).toContain("llm.routes[0].providers[0].modelMap.gpt-4o: looks like a OpenAI API key");
    expect(text).not.toContain(key);
  });

  it("checks cross references: policies, upstreams, duplicate ids, path collisions", () => {
    const bundle = sampleBundle() as any;
    bundle.llm.routes[1].policy = "strict";
    bundle.mcp.grants[0].upstream = "slack";
    bundle.llm.routes[1].id = "openai";
    bundle.llm.routes[0].pathPrefix = "/mcp";
    const text = messages(validateSynthBundle(bundle)).join("\n");
    expect(text).toContain('llm.routes[1].policy: unknown guard policy "strict"');
    expect(text).toContain('mcp.grants[0].upstream: unknown upstream "slack"');
    expect(text).toContain('llm.routes[1].id: duplicate route id "openai"');
    expect(text).toContain('llm.routes[0].pathPrefix: collides with the MCP path "/mcp"');
  });

  it("detects a bundle edited after synth through its digest", () => {
    const bundle = withDigest(sampleBundle() as any);
    expect(validateRuntimeBundle(bundle).ok).toBe(true);
    const edited = structuredClone(bundle);
    edited.mcp.alwaysBlocked = [];
    expect(messages(validateRuntimeBundle(edited)).join("\n")).toContain("metadata.digest: does not match the content");
    expect(computeDigest(bundle)).toBe(bundle.metadata.digest);
  });

  it("keeps the checked-in JSON Schema equal to the one generated from zod", () => {
    const checkedIn = JSON.parse(
      readFileSync(new URL("../../policies/bundle/bundle.schema.json", import.meta.url), "utf8"),
    );
    expect(checkedIn).toEqual(bundleJsonSchema());
  });
});
