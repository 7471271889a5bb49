/**
 * GatewayBundle's `console` prop: off unless set (in prod too, and the bundle keeps its content), settings reach
 * `server.console` with the client secret as a reference, and a console URL without the `/console` path fails
 * synth naming the field and the prop.
 */
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { validateRuntimeBundle, validateSynthBundle } from "../../policies/bundle/index.js";
import { GatewayBundle, type GatewayBundleProps, GatewayRoute, GuardPolicy, OktaApps } from "../../constructs/index.js";
import { synthJson, testAppDir } from "../constructs/synth-helpers.js";

function stackWith(environment: string, settings: Partial<GatewayBundleProps>) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "console");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const okta = new OktaApps(stack, "Okta", {
    name: "console",
    gatewayUri: "https://agents.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
  });
  const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
  const bundle = new GatewayBundle(stack, "Gateway", {
    name: "gateway",
    environment,
    authServer: okta,
    routes: [docs],
    defaultPolicy: new GuardPolicy(stack, "Default", {}),
    ...settings,
  });
  return { stack, bundle };
}

const runtimeValues = (bundle: GatewayBundle) =>
  Object.fromEntries(Object.keys(bundle.applyTimeValues()).map((name) => [name, "https://x.example"]));

describe("GatewayBundle({ console })", () => {
  it("leaves the console off when unset, in prod as in dev, without changing the bundle's content", () => {
    for (const environment of ["dev", "prod"]) {
      const { bundle } = stackWith(environment, {});
      expect(bundle.bundle().server).not.toHaveProperty("console");
      const loaded = validateRuntimeBundle(bundle.bundle(), { values: runtimeValues(bundle) });
      expect(loaded.ok ? loaded.bundle.server.console : loaded.issues).toEqual({ enabled: false });
    }
    const { bundle } = stackWith("prod", { console: false });
    expect(bundle.bundle().server).not.toHaveProperty("console");
  });

  it("puts the console's settings in server.console, the client secret as a reference and its variable among the secrets", () => {
    const { stack, bundle } = stackWith("prod", {
      console: {
        clientId: "0oa-console",
        clientSecretEnv: "CONSOLE_CLIENT_SECRET",
        url: "https://gateway-admin.acme.example/console",
        adminGroup: { claim: "groups", group: "platform-admins" },
      },
    });
    synthJson(stack);
    expect(bundle.bundle().server.console).toEqual({
      enabled: true,
      clientId: "0oa-console",
      url: "https://gateway-admin.acme.example/console",
      clientSecret: { env: "CONSOLE_CLIENT_SECRET" },
      adminGroup: { claim: "groups", group: "platform-admins" },
    });
    expect(bundle.secretEnvNames).toContain("CONSOLE_CLIENT_SECRET");
    const loaded = validateRuntimeBundle(bundle.bundle(), { values: runtimeValues(bundle) });
    expect(loaded.ok && loaded.bundle.server.console.enabled && loaded.bundle.server.console.adminScope).toBe(
      "tollgate:admin",
    );
  });

  it("fails synth when the console URL does not have the path /console, naming the field and the prop", () => {
    const { stack } = stackWith("dev", {
      console: { clientId: "0oa-console", url: "https://gateway-admin.acme.example/admin" },
    });
    expect(() => synthJson(stack)).toThrow(
      /server\.console\.url: .*path \/console.*set GatewayBundle\(\{ console \}\)/,
    );
  });

  it("refuses a bundle whose console is enabled without a client or URL", () => {
    const { bundle } = stackWith("dev", {});
    const edited = structuredClone(bundle.bundle()) as unknown as { server: Record<string, unknown> };
    edited.server.console = { enabled: true };
    delete (edited as { metadata?: { digest?: string } }).metadata?.digest;
    const result = validateSynthBundle(edited);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["server.console.clientId", "server.console.url"]),
    );
  });
});
