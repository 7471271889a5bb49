import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { App, TerraformStack } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import type { BundleInput } from "../../policies/bundle/index.js";
import { GatewayBundle, GatewayRoute, GuardPolicy, McpScopes, OktaApps } from "../../constructs/index.js";
import { DESTRUCTIVE_TOOL_PATTERNS } from "../../constructs/guard-policy.js";
import { checkErrors } from "./synth-helpers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A stack with only Okta and a GatewayBundle: what a team running the gateway on ECS or a VM writes. */
function bundleOnly(
  options: { skipValidation?: boolean; grantWithoutRoute?: boolean; environment?: string; openPolicy?: boolean } = {},
) {
  const outdir = mkdtempSync(join(tmpdir(), "tollgate-bundle-only-"));
  dirs.push(outdir);
  const app = new App({ outdir, skipValidation: options.skipValidation ?? false });
  const stack = new TerraformStack(app, "ecs-gateway");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const okta = new OktaApps(stack, "Okta", {
    name: "ecs",
    gatewayUri: "https://agents.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
  });
  const scopes = new McpScopes(stack, "Scopes", { authServer: okta });
  const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
  const llm = GatewayRoute.llm(stack, "OpenAI", {
    pathPrefix: "/openai",
    providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
  });
  scopes.grantTools("mcp:read", docs, "get_*");
  if (options.openPolicy) scopes.grantTools("mcp:admin", docs, "*");
  const bundle = new GatewayBundle(stack, "GatewayBundle", {
    name: "gateway",
    environment: options.environment ?? "prod",
    authServer: okta,
    routes: options.grantWithoutRoute ? [llm] : [llm, docs],
    scopes,
    defaultPolicy: new GuardPolicy(stack, "Default", options.openPolicy ? { alwaysBlockedTools: [] } : {}),
  });
  return { app, outdir, bundle };
}

describe("GatewayBundle", () => {
  it("writes the bundle without any Kubernetes or AWS resource", () => {
    const { app, outdir } = bundleOnly();
    app.synth();
    const tf = JSON.parse(readFileSync(join(outdir, "stacks/ecs-gateway/cdk.tf.json"), "utf8")) as {
      resource: Record<string, unknown>;
    };
    expect(Object.keys(tf.resource).filter((type) => !type.startsWith("okta_"))).toEqual([]);
    const bundle = JSON.parse(
      readFileSync(join(outdir, "stacks/ecs-gateway/gateway.bundle.json"), "utf8"),
    ) as BundleInput;
    expect(bundle.mcp?.grants).toEqual([{ scope: "mcp:read", upstream: "docs", tools: ["get_*"] }]);
  });

  it("takes the gateway URL from the authorization server's audience, for every place that needs it", () => {
    const { bundle } = bundleOnly();
    const json = bundle.bundle();
    expect(json.server.publicUrl).toBe("https://agents.acme.example");
    expect(json.auth.audiences).toEqual(["https://agents.acme.example"]);
    expect(json.protectedResource.resource).toBe("https://agents.acme.example/mcp");
    expect(bundle.mcpUrl).toBe("https://agents.acme.example/mcp");
    expect(bundle.llmUrls).toEqual({ openai: "https://agents.acme.example/openai" });
  });

  it("TG-GRANT-001: a grant whose upstream no gateway carries fails synth instead of vanishing", () => {
    const { app } = bundleOnly({ grantWithoutRoute: true });
    expect(() => app.synth()).toThrow(
      /\[TG-GRANT-001\] .*grantTools\("mcp:read", "docs", \.\.\.\): no gateway carries/,
    );
  });

  it("refuses to synthesize unchecked when the app skips validation", () => {
    const { app } = bundleOnly({ skipValidation: true });
    expect(() => app.synth()).toThrow(/Tollgate's synth checks did not run for stack "ecs-gateway"/);
  });
});

describe("the destructive floor", () => {
  const floor = (environment: string) =>
    (bundleOnly({ environment, openPolicy: true }).bundle.bundle().mcp?.alwaysBlocked ?? []).flatMap((b) => b.tools);

  it("outside dev, blocks destructive tools even when the policy blocks nothing and a grant is *", () => {
    expect(floor("prod")).toEqual([...DESTRUCTIVE_TOOL_PATTERNS]);
    expect(checkErrors(bundleOnly({ environment: "prod", openPolicy: true }).bundle.node.scope as never)).toEqual([]);
  });

  it("in dev, leaves the list to the policy", () => {
    expect(floor("dev")).toEqual([]);
  });
});
