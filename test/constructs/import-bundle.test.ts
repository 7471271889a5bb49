/**
 * A team that already has its Okta authorization server, apps and scopes adds only a gateway bundle:
 * nothing is created in Okta, the grants on its existing scopes reach the bundle, and the checks run.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { App, TerraformStack } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import type { BundleInput } from "../../policies/bundle/index.js";
import { GatewayBundle, GatewayRoute, GuardPolicy, McpScopes, OktaApps } from "../../constructs/index.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function existingOktaStack(options: { destructiveGrant?: boolean } = {}) {
  const outdir = mkdtempSync(join(tmpdir(), "tollgate-import-bundle-"));
  dirs.push(outdir);
  const app = new App({ outdir, skipValidation: false });
  const stack = new TerraformStack(app, "team");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const server = OktaApps.fromAuthServerId(stack, "TeamServer", {
    authServerId: "aus1acmeplatform",
    name: "acme-platform",
    audience: "https://agents.acme.example",
  });
  const clients = OktaApps.fromClientIds(stack, "TeamApps", { userClientId: "0oa1user", agentClientId: "0oa1agent" });
  const scopes = McpScopes.fromScopeNames(stack, "TeamScopes", {
    authServer: server,
    names: ["tickets:read", "tickets:write"],
  });
  const tickets = GatewayRoute.mcp(stack, "Tickets", {
    upstreamId: "tickets",
    url: "https://tickets.acme.example/mcp",
  });
  scopes.grantTools("tickets:read", tickets, "get_*", "search_*");
  scopes.grantTools("tickets:write", tickets, options.destructiveGrant ? "delete_ticket" : "update_ticket");
  new GatewayBundle(stack, "Gateway", {
    name: "gateway",
    environment: "prod",
    authServer: server,
    clients,
    routes: [tickets],
    scopes,
    defaultPolicy: new GuardPolicy(stack, "Default"),
  });
  const read = (file: string) => readFileSync(join(outdir, "stacks/team", file), "utf8");
  return { app, read };
}

describe("a gateway bundle on an existing Okta authorization server, apps and scopes", () => {
  it("creates nothing in Okta and carries the grants made on the existing scopes", () => {
    const { app, read } = existingOktaStack();
    app.synth();
    const tf = JSON.parse(read("cdk.tf.json")) as { resource?: Record<string, unknown> };
    expect(Object.keys(tf.resource ?? {}).filter((type) => type.startsWith("okta_"))).toEqual([]);
    const bundle = JSON.parse(read("gateway.bundle.json")) as BundleInput;
    expect(bundle.mcp?.grants).toEqual([
      { scope: "tickets:read", upstream: "tickets", tools: ["get_*", "search_*"] },
      { scope: "tickets:write", upstream: "tickets", tools: ["update_ticket"] },
    ]);
    expect(bundle.auth.audiences).toEqual(["https://agents.acme.example"]);
    expect(bundle.auth.allowedClients).toEqual(["0oa1user", "0oa1agent"]);
  });

  it("still fails synth on a destructive grant (TG-TOOL-001)", () => {
    const { app } = existingOktaStack({ destructiveGrant: true });
    expect(() => app.synth()).toThrow(/\[TG-TOOL-001\] .*"delete_ticket"\) grants a destructive tool/);
  });
});
