import { App } from "cdktf";
import { describe, expect, it } from "vitest";
import { TollgateChecks } from "../../constructs/index.js";
import { smallPlatform } from "./fixtures.js";
import { checkErrors, environmentStack, synthJson } from "./synth-helpers.js";

const rule = (errors: string[], id: string) => errors.filter((e) => e.startsWith(`[${id}]`));

describe("synth-time checks", () => {
  it("stay quiet on the default environment (dev and prod) and on the small platform", () => {
    expect(checkErrors(environmentStack("dev"))).toEqual([]);
    expect(checkErrors(environmentStack("prod"))).toEqual([]);
    expect(checkErrors(smallPlatform().stack)).toEqual([]);
  });

  it("TG-SCOPE-001: a privileged scope without consent fails", () => {
    const errors = checkErrors(
      smallPlatform({ scopes: ["mcp:read", { name: "mcp:admin", consent: "IMPLICIT" }] }).stack,
    );
    expect(rule(errors, "TG-SCOPE-001")).toEqual([
      expect.stringContaining(`scope "mcp:admin" is privileged but its consent is IMPLICIT`),
    ]);
  });

  it("TG-SCOPE-002: a grant to a scope that does not exist fails", () => {
    const errors = checkErrors(smallPlatform({ grants: [["mcp:reed", ["get_*"]]] }).stack);
    expect(rule(errors, "TG-SCOPE-002")).toEqual([expect.stringContaining(`scope "mcp:reed" does not exist`)]);
  });

  it("TG-TOOL-001: granting a destructive tool fails, a plain * (always-blocked still wins) does not", () => {
    const errors = checkErrors(
      smallPlatform({
        grants: [
          ["mcp:write", ["delete_page", "create_*"]],
          ["mcp:admin", ["*"]],
        ],
      }).stack,
    );
    expect(rule(errors, "TG-TOOL-001")).toEqual([expect.stringContaining(`"delete_page") grants a destructive tool`)]);
    expect(checkErrors(smallPlatform({ grants: [["mcp:write", ["merge_pull_request"]]] }).stack)).toEqual([
      expect.stringMatching(/^\[TG-TOOL-001\]/),
    ]);
  });

  it("TG-ENV-001: a secret-like name or value in the agent runtime's environment fails", () => {
    const byName = checkErrors(smallPlatform({ agent: { extraEnvironment: { OPENAI_API_KEY: "from-vault" } } }).stack);
    expect(rule(byName, "TG-ENV-001")).toEqual([expect.stringContaining("OPENAI_API_KEY has a secret-like name")]);
    const byValue = checkErrors(
      smallPlatform({ agent: { extraEnvironment: { LOG_HINT: `ghp_${"a".repeat(36)}` } } }).stack,
    );
    expect(rule(byValue, "TG-ENV-001")).toEqual([expect.stringContaining("LOG_HINT holds a GitHub token")]);
    expect(checkErrors(smallPlatform({ agent: { extraEnvironment: { LOG_LEVEL: "debug" } } }).stack)).toEqual([]);
  });

  it("TG-AUTH-001: a route that does not require authentication fails", () => {
    const errors = checkErrors(smallPlatform({ llmRequireAuth: false }).stack);
    expect(rule(errors, "TG-AUTH-001")).toEqual([
      expect.stringContaining(`route "openai" sets requireAuthentication: false`),
    ]);
  });

  it("TG-IMG-001: a tag outside dev fails, for the gateway and the agent; dev may use tags", () => {
    const tagged = {
      gateway: { image: { repository: "ghcr.io/acme/tollgate", tag: "latest" } },
      agent: { imageDigest: undefined, imageTag: "latest" },
    };
    const errors = checkErrors(smallPlatform(tagged).stack);
    expect(rule(errors, "TG-IMG-001")).toHaveLength(2);
    expect(checkErrors(smallPlatform({ ...tagged, environment: "dev" }).stack)).toEqual([]);
  });

  it("TG-NET-001: a plain-http upstream outside dev fails; dev may use one", () => {
    const mcp = { url: "http://docs.internal:8080/mcp" };
    expect(rule(checkErrors(smallPlatform({ mcp }).stack), "TG-NET-001")).toEqual([
      expect.stringContaining("http://docs.internal:8080/mcp"),
    ]);
    expect(checkErrors(smallPlatform({ mcp, environment: "dev" }).stack)).toEqual([]);
  });

  it("TG-BUNDLE-001: an invalid bundle fails synth naming the field and the prop to fix", () => {
    const { stack } = smallPlatform({ mcp: { upstreamId: "Docs_Server" } });
    expect(() => synthJson(stack)).toThrow(
      /\[TG-BUNDLE-001\] the gateway bundle does not validate: gateway "gateway": mcp\.upstreams\[0\]\.id: expected a lower-case id.* — set GatewayRoute\.mcp\(\{ \.\.\. \}\)/,
    );
  });

  it("an error finding fails a real synth (what `cdktf synth` runs)", () => {
    const bad = smallPlatform({ llmRequireAuth: false });
    expect(() => App.of(bad.stack).synth()).toThrow(/\[TG-AUTH-001\] a gateway route does not require authentication/);
    const good = smallPlatform();
    expect(() => App.of(good.stack).synth()).not.toThrow();
  });

  it("a suppression with a reason silences one rule on one construct and stays visible", () => {
    const platform = smallPlatform({ llmRequireAuth: false });
    TollgateChecks.suppress(
      platform.llm,
      "TG-AUTH-001",
      "health probe route of the legacy load balancer, no user data",
    );
    expect(checkErrors(platform.stack)).toEqual([]);
    const infos = platform.llm.node.metadata.filter((m) => m.type === "@cdktf/info").map((m) => String(m.data));
    expect(infos).toEqual([expect.stringContaining("[TG-AUTH-001] suppressed: health probe route")]);
  });

  it("a suppression without a reason is refused", () => {
    const platform = smallPlatform();
    expect(() => TollgateChecks.suppress(platform.llm, "TG-AUTH-001", " ")).toThrow(/needs a reason/);
    expect(() => TollgateChecks.suppress(platform.llm, "TG-NOPE-001" as "TG-AUTH-001", "a good long reason")).toThrow(
      /unknown rule/,
    );
  });
});

describe("gateway availability and shared limits", () => {
  it("refuses a single replica outside dev", () => {
    expect(() => synthJson(smallPlatform({ gateway: { replicas: 1 } }).stack)).toThrow(
      /GatewayDeployment\.replicas: at least 2 outside dev \("prod" has 1\)/,
    );
    expect(() => synthJson(smallPlatform({ environment: "dev", gateway: { replicas: 1 } }).stack)).not.toThrow();
  });

  it("TG-LIMIT-001 warns and TG-SESSION-001 fails when several replicas keep budgets and MCP sessions in memory", () => {
    const findings = (redis: boolean) => {
      const platform = smallPlatform({
        gateway: { replicas: 3 },
        bundle: { rateLimitStore: redis ? { type: "redis" as const } : { type: "memory" as const } },
      });
      const errors = checkErrors(platform.stack);
      const warnings = platform.gateway.node.metadata
        .filter((m) => m.type === "@cdktf/warn")
        .map((m) => String(m.data));
      return { errors, warnings };
    };
    const memory = findings(false);
    expect(memory.warnings).toEqual([
      expect.stringMatching(/^\[TG-LIMIT-001\] .*: 3 replicas keep separate in-memory rate-limit budgets/),
    ]);
    expect(memory.errors).toEqual([expect.stringMatching(/^\[TG-SESSION-001\] .*: 3 replicas keep MCP sessions/)]);
    expect(findings(true)).toEqual({ errors: [], warnings: [] });
  });
});
