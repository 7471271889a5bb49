/**
 * The bundle's auth settings: safe defaults, bounds that refuse a setting which would switch a check
 * off, and token profiles that fill in claim names without widening what is read.
 */
import { describe, expect, it } from "vitest";
import { formatIssue, validateRuntimeBundle } from "../../policies/bundle/index.js";
import { sampleBundle } from "../support/sample-bundle.js";

function withAuth(auth: Record<string, unknown>) {
  const bundle = sampleBundle();
  return validateRuntimeBundle({ ...bundle, auth: { ...bundle.auth, ...auth } });
}

const problems = (result: ReturnType<typeof withAuth>) => (result.ok ? [] : result.issues.map(formatIssue));

describe("auth settings in the bundle", () => {
  it("defaults to Okta's token shape, a one-day maximum age and a 256 KiB cap on issuer documents", () => {
    const result = withAuth({});
    expect(result.ok && result.bundle.auth).toMatchObject({
      tokenProfile: "okta",
      scopeClaim: "scp",
      clientClaims: ["cid"],
      requireScopeClaim: true,
      requireAccessTokenType: false,
      maxTokenAgeSeconds: 86_400,
      maxIssuerDocumentBytes: 262_144,
      clockSkewSeconds: 30,
    });
  });

  it("fills RFC 9068 claim names and requires typ at+jwt under the rfc9068 profile", () => {
    const result = withAuth({ tokenProfile: "rfc9068" });
    expect(result.ok && result.bundle.auth).toMatchObject({
      scopeClaim: "scope",
      clientClaims: ["client_id"],
      requireAccessTokenType: true,
    });
  });

  it("keeps explicit claim names and checks over the profile's", () => {
    const result = withAuth({ tokenProfile: "rfc9068", scopeClaim: "scp", requireAccessTokenType: false });
    expect(result.ok && result.bundle.auth).toMatchObject({ scopeClaim: "scp", requireAccessTokenType: false });
  });

  it.each([
    [{ maxTokenAgeSeconds: 0 }, "auth.maxTokenAgeSeconds"],
    [{ maxTokenAgeSeconds: 3650 * 86_400 }, "auth.maxTokenAgeSeconds"],
    [{ maxIssuerDocumentBytes: 100 }, "auth.maxIssuerDocumentBytes"],
    [{ maxIssuerDocumentBytes: 64 * 1024 * 1024 }, "auth.maxIssuerDocumentBytes"],
    [{ tokenProfile: "azure" }, "auth.tokenProfile"],
  ])("refuses %j out of bounds, naming the field and where to set it", (auth, path) => {
    const found = problems(withAuth(auth));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${path.replace(".", "\\.")}: .* — set GatewayBundle\\(\\{ auth \\}\\)$`));
  });
});
