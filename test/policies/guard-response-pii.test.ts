/**
 * PII in model output (`pii.responses`): masked or blocked in whole answers and in streams, where an email or a
 * phone number split across chunks is still seen whole before any of it is released.
 */
import { describe, expect, it } from "vitest";
import { compileGuardPolicy, createStreamingCredentialScanner } from "../../policies/guards/index.js";
import { type GuardPolicy, RuntimeBundleSchema } from "../../policies/bundle/index.js";

function policy(pii: Record<string, unknown>): GuardPolicy {
  const bundle = RuntimeBundleSchema.parse({
    apiVersion: "tollgate.dev/v1alpha1",
    kind: "GatewayBundle",
    metadata: { environment: "dev", stack: "t", gateway: "g" },
    server: { publicUrl: "http://127.0.0.1:1" },
    auth: { issuer: "http://127.0.0.1:2", audiences: ["http://127.0.0.1:1"] },
    protectedResource: { resource: "http://127.0.0.1:1/mcp", authorizationServers: ["http://127.0.0.1:2"] },
    guardPolicies: [{ id: "p", pii, credentialLeak: { mode: "block" } }],
  });
  return bundle.guardPolicies[0]!;
}

async function stream(chunks: string[], pii: Record<string, unknown>): Promise<string | { blocked: string }> {
  const compiled = compileGuardPolicy(policy(pii));
  const scanner = createStreamingCredentialScanner({ mode: "block", holdBackChars: 256 }, compiled.streamingPii);
  let out = "";
  for (const chunk of chunks) {
    const result = await scanner.push(chunk);
    if (result.action === "block") return { blocked: result.guard };
    out += result.text;
    // Nothing of a split email or number is released before it is whole.
    expect(out).not.toMatch(/jane\.doe|555-01|\(415\)/);
  }
  const last = await scanner.finish();
  if (last.action === "block") return { blocked: last.guard };
  return out + last.text;
}

describe("PII in model output", () => {
  it("is masked in a stream even when split across chunks", async () => {
    const text = await stream(["Write to ja", "ne.doe@exam", "ple.com or call (415) 555-", "0132 ", "today."], {
      mode: "mask",
      responses: true,
    });
    expect(text).toBe("Write to [REDACTED:email] or call [REDACTED:phone] today.");
  });

  it("blocks the stream in block mode", async () => {
    expect(await stream(["mail jane.doe@", "example.com now"], { mode: "block", responses: true })).toEqual({
      blocked: "pii",
    });
  });

  it("leaves model output alone unless the policy asks (responses off)", async () => {
    const compiled = compileGuardPolicy(policy({ mode: "mask" }));
    expect(compiled.streamingPii).toBeUndefined();
    expect(await compiled.guardResponseText("mail jane.doe@example.com")).toEqual({
      action: "allow",
      value: "mail jane.doe@example.com",
    });
  });

  it("masks a whole answer and counts what it masked", async () => {
    const compiled = compileGuardPolicy(policy({ mode: "mask", responses: true }));
    expect(await compiled.guardResponseText("mail jane.doe@example.com")).toEqual({
      action: "allow",
      value: "mail [REDACTED:email]",
      redactions: { email: 1 },
    });
  });
});
