/** GatewayBundle({ mcpCatalog }): role endpoints, own names and discovery reach the bundle; mistakes fail synth. */
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { validateRuntimeBundle } from "../../policies/bundle/index.js";
import {
  GatewayBundle,
  GatewayRoute,
  GuardPolicy,
  type McpCatalogSettings,
  type McpRoute,
  OktaApps,
} from "../../constructs/index.js";
import { synthJson, testAppDir } from "./synth-helpers.js";

/** A stack with Okta, two MCP upstreams in the bundle (docs, tickets), one outside it (stray). */
function stackWith(catalog: (routes: { docs: McpRoute; tickets: McpRoute; stray: McpRoute }) => McpCatalogSettings) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "catalog");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const okta = new OktaApps(stack, "Okta", {
    name: "catalog",
    gatewayUri: "https://agents.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
  });
  const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
  const tickets = GatewayRoute.mcp(stack, "Tickets", { upstreamId: "tickets", url: "https://t.acme.example/mcp" });
  const stray = GatewayRoute.mcp(stack, "Stray", { upstreamId: "stray", url: "https://stray.acme.example/mcp" });
  const bundle = new GatewayBundle(stack, "Gateway", {
    name: "gateway",
    environment: "dev",
    authServer: okta,
    routes: [docs, tickets],
    defaultPolicy: new GuardPolicy(stack, "Default", {}),
    mcpCatalog: catalog({ docs, tickets, stray }),
  });
  return { stack, bundle };
}

describe("GatewayBundle mcpCatalog", () => {
  it("emits role endpoints by upstream id, and the runtime loads them", () => {
    const { stack, bundle } = stackWith(({ docs, tickets }) => ({
      discovery: "progressive",
      endpoints: [
        { role: "support", tools: [{ upstream: tickets, tools: ["get_*", "list_*"] }], toolNames: "upstream" },
        {
          role: "writer",
          tools: [
            { upstream: docs, tools: ["*"] },
            { upstream: tickets, tools: ["comment"] },
          ],
        },
      ],
    }));
    synthJson(stack);
    const mcp = bundle.bundle().mcp;
    expect(mcp?.discovery).toBe("progressive");
    expect(mcp).not.toHaveProperty("toolNames");
    expect(mcp?.endpoints).toEqual([
      { role: "support", tools: [{ upstream: "tickets", tools: ["get_*", "list_*"] }], toolNames: "upstream" },
      {
        role: "writer",
        tools: [
          { upstream: "docs", tools: ["*"] },
          { upstream: "tickets", tools: ["comment"] },
        ],
      },
    ]);
    const loaded = validateRuntimeBundle(bundle.bundle(), {
      values: Object.fromEntries(Object.keys(bundle.applyTimeValues()).map((name) => [name, "https://x.example"])),
    });
    expect(
      loaded.ok ? loaded.bundle.mcp?.endpoints.map((e) => [e.role, e.toolNames, e.discovery]) : loaded.issues,
    ).toEqual([
      ["support", "upstream", "all"],
      ["writer", "namespaced", "all"],
    ]);
  });

  it("leaves the fields out when unset, so existing bundles keep their content and digest", () => {
    const { bundle } = stackWith(() => ({}));
    for (const field of ["toolNames", "discovery", "endpoints"]) expect(bundle.bundle().mcp).not.toHaveProperty(field);
  });

  it("fails synth on own names where two upstreams' names could collide, naming the field and the fix", () => {
    const { stack } = stackWith(() => ({ toolNames: "upstream" }));
    expect(() => synthJson(stack)).toThrow(
      /mcp\.toolNames: "upstream" .*needs a single upstream, found 2 \(docs, tickets\).*set GatewayBundle\(\{ mcpCatalog \}\)/s,
    );
  });

  it("fails synth on a role endpoint naming an upstream that is not one of the bundle's routes", () => {
    const { stack } = stackWith(({ stray }) => ({
      endpoints: [{ role: "ops", tools: [{ upstream: stray, tools: ["*"] }] }],
    }));
    expect(() => synthJson(stack)).toThrow(/mcp\.endpoints\[0\]\.tools\[0\]\.upstream: unknown upstream "stray"/);
  });
});
