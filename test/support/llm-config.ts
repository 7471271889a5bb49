/**
 * An ActiveConfig for LLM/limits/guard tests: the sample bundle changed by `edit`, validated with the
 * runtime schema, secrets read from a map (env name → value).
 */
import {
  type Bundle,
  type BundleInput,
  type SecretRef,
  orThrow,
  validateRuntimeBundle,
} from "../../policies/bundle/index.js";
import type { ActiveConfig, Principal } from "../../runtime/http/types.js";
import { sampleBundle } from "./sample-bundle.js";

export function llmTestConfig(edit: (bundle: BundleInput) => void, secrets: Record<string, string> = {}): ActiveConfig {
  const input = structuredClone(sampleBundle());
  edit(input);
  const bundle: Bundle = orThrow(validateRuntimeBundle(input));
  return {
    bundle,
    digest: "sha256:test",
    secrets: {
      read(ref: SecretRef) {
        const key = "env" in ref ? ref.env : ref.file;
        const value = secrets[key];
        if (value === undefined) throw new Error(`test secret ${key} not set`);
        return value;
      },
    },
  };
}

export function testPrincipal(subject: string, scopes: string[] = []): Principal {
  return {
    issuer: "https://issuer.test",
    subject,
    clientId: "agent",
    scopes,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    token: "unused",
  };
}
