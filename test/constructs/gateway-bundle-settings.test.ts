/** GatewayBundle's operations settings: readiness and MCP sessions reach the bundle; mistakes fail synth. */
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { validateRuntimeBundle } from "../../policies/bundle/index.js";
import { GatewayBundle, type GatewayBundleProps, GatewayRoute, GuardPolicy, OktaApps } from "../../constructs/index.js";
import { synthJson, testAppDir } from "./synth-helpers.js";

/** A stack with Okta, an MCP upstream, an LLM route and a GatewayBundle with `settings`. */
function stackWith(
  settings: (routes: { docs: GatewayRoute; chat: GatewayRoute; stray: GatewayRoute }) => Partial<GatewayBundleProps>,
) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "settings");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const okta = new OktaApps(stack, "Okta", {
    name: "settings",
    gatewayUri: "https://agents.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
  });
  const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
  const chat = GatewayRoute.llm(stack, "Chat", {
    pathPrefix: "/chat",
    providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
  });
  const stray = GatewayRoute.mcp(stack, "Stray", { upstreamId: "stray", url: "https://stray.acme.example/mcp" });
  const bundle = new GatewayBundle(stack, "Gateway", {
    name: "gateway",
    environment: "dev",
    authServer: okta,
    routes: [docs, chat],
    defaultPolicy: new GuardPolicy(stack, "Default", {}),
    ...settings({ docs, chat, stray }),
  });
  return { stack, bundle };
}

describe("GatewayBundle operations settings", () => {
  it("puts the required routes (by upstream and route id) and the probe interval in server.readiness", () => {
    const { stack, bundle } = stackWith(({ docs, chat }) => ({
      readiness: { requiredUpstreams: [docs, chat], probeIntervalSeconds: 10 },
    }));
    synthJson(stack);
    expect(bundle.bundle().server.readiness).toEqual({ requiredUpstreams: ["docs", "chat"], probeIntervalSeconds: 10 });
  });

  it("puts the MCP session settings in mcp.sessions, and the runtime reads them as given", () => {
    const { stack, bundle } = stackWith(() => ({
      mcpSessions: { idleMinutes: 15, maxPerPrincipal: 4, maxStdioProcesses: 64 },
    }));
    synthJson(stack);
    expect(bundle.bundle().mcp?.sessions).toEqual({ idleMinutes: 15, maxPerPrincipal: 4, maxStdioProcesses: 64 });
    const loaded = validateRuntimeBundle(bundle.bundle(), {
      values: Object.fromEntries(Object.keys(bundle.applyTimeValues()).map((name) => [name, "https://x.example"])),
    });
    expect(loaded.ok ? loaded.bundle.mcp?.sessions : loaded.issues).toEqual({
      idleMinutes: 15,
      maxPerPrincipal: 4,
      maxStdioProcesses: 64,
      // Not a GatewayBundle prop: the runtime's default for resumable streams.
      streamEvents: { retentionSeconds: 300, maxPerSession: 1000 },
    });
  });

  it("leaves both out when unset, so existing bundles keep their content and digest", () => {
    const { bundle } = stackWith(() => ({}));
    expect(bundle.bundle().server).not.toHaveProperty("readiness");
    expect(bundle.bundle().mcp).not.toHaveProperty("sessions");
  });

  it("fails synth when a required route is not one of the bundle's routes, naming it and the fix", () => {
    const { stack } = stackWith(({ stray }) => ({ readiness: { requiredUpstreams: [stray] } }));
    expect(() => synthJson(stack)).toThrow(
      /readiness\.requiredUpstreams: route settings\/Stray \("stray"\) is not one of this bundle's routes: add it to routes, or remove it/,
    );
  });

  it("fails synth on a session setting out of range, naming the field and the prop", () => {
    const { stack } = stackWith(() => ({ mcpSessions: { idleMinutes: 0 } }));
    expect(() => synthJson(stack)).toThrow(/mcp\.sessions\.idleMinutes: .*set GatewayBundle\(\{ mcpSessions \}\)/);
  });
});
