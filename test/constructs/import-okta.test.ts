/** Reusing a platform team's Okta objects: nothing is created for them, and Terraform checks them at plan. */
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { TerraformOutput, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { GatewayRoute, McpScopes, OktaApps } from "../../constructs/index.js";
import { checkErrors, resources, single, synthJson, testAppDir, type TfJson } from "./synth-helpers.js";

const SERVER = { authServerId: "aus1acmeplatform", name: "acme-platform", audience: "https://agents.acme.example" };
const USER_APP = { redirectUris: ["https://ide.acme.example/oauth/callback"] };

function teamStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "team");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  return stack;
}

type DataJson = Record<string, Record<string, Record<string, unknown>>>;
const dataOf = (tf: TfJson) => (tf as TfJson & { data?: DataJson }).data ?? {};
const postconditions = (source: Record<string, unknown> | undefined) =>
  ((source?.lifecycle as { postcondition?: { condition: string; error_message: string }[] } | undefined)
    ?.postcondition ?? []) as { condition: string; error_message: string }[];
const oktaResourceTypes = (tf: TfJson) => Object.keys(tf.resource ?? {}).filter((t) => t.startsWith("okta_"));

describe("an existing authorization server, apps and scopes", () => {
  const stack = teamStack();
  const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);
  const clients = OktaApps.fromClientIds(stack, "TeamApps", { userClientId: "0oa1user", agentClientId: "0oa1agent" });
  const scopes = McpScopes.fromScopeNames(stack, "TeamScopes", { authServer: server, names: ["tickets:read"] });
  new TerraformOutput(stack, "discovery", { value: server.discoveryUrl });
  const tf = synthJson(stack);
  const data = dataOf(tf);

  it("creates no Okta object at all", () => {
    expect(oktaResourceTypes(tf)).toEqual([]);
    expect(clients.agentClientId).toBe("0oa1agent");
    expect(scopes.names).toEqual(["tickets:read"]);
  });

  it("makes the plan fail unless the server named is the one with this id and lists the gateway's URL as an audience", () => {
    const lookup = Object.values(data.okta_auth_server ?? {});
    expect(lookup).toHaveLength(1);
    expect(lookup[0]?.name).toBe("acme-platform");
    const conditions = postconditions(lookup[0]);
    expect(conditions.map((c) => c.condition)).toEqual([
      '${(self.id == "aus1acmeplatform")}',
      '${contains(self.audiences, "https://agents.acme.example")}',
    ]);
    expect(conditions[1]?.error_message).toMatch(
      /^team\/TeamServer \(OktaApps\.fromAuthServerId\): .*"https:\/\/agents\.acme\.example" among its audiences.*: add that URL to the server's audiences in Okta, or set audience/,
    );
  });

  it("takes the audience from the import and the issuer from what Okta reports", () => {
    expect(server.audience).toBe("https://agents.acme.example");
    const output = (tf as TfJson & { output: Record<string, { value: string }> }).output;
    expect(output.discovery?.value).toMatch(
      /^\$\{join\("", \[data\.okta_auth_server\.\w+\.issuer, "\/\.well-known\/openid-configuration"\]\)\}$/,
    );
  });

  it("makes the plan fail, naming them, when a scope does not exist on the server", () => {
    const lookup = single({ resource: data } as TfJson, "okta_auth_server_scopes");
    expect(lookup.auth_server_id).toBe("aus1acmeplatform");
    const [condition] = postconditions(lookup);
    expect(condition?.condition).toBe(
      '${alltrue([for name in ["tickets:read"] : contains(self.scopes[*].name, name)])}',
    );
    expect(condition?.error_message).toContain(
      'scopes missing on the authorization server: ${join(", ", [for name in ["tickets:read"] : name if !contains(self.scopes[*].name, name)])}',
    );
  });
});

describe("Tollgate's apps on an existing authorization server", () => {
  function onExistingServer(accessPolicy?: { priority: number }) {
    const stack = teamStack();
    const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);
    const okta = new OktaApps(stack, "Agents", {
      name: "agents",
      authServer: server,
      userApp: USER_APP,
      ...(accessPolicy ? { accessPolicy } : {}),
    });
    return { stack, server, okta };
  }

  it("adds no access policy and no scope to the server unless asked", () => {
    const { stack, okta } = onExistingServer();
    new McpScopes(stack, "Scopes", { authServer: okta, scopes: ["mcp:read"], privileged: [] });
    const tf = synthJson(stack);
    expect(oktaResourceTypes(tf).sort()).toEqual([
      "okta_app_group_assignment",
      "okta_app_oauth",
      "okta_auth_server_scope",
      "okta_group",
    ]);
    expect(okta.policy).toBeUndefined();
    expect(okta.audience).toBe("https://agents.acme.example");
    expect(okta.authServerId).toBe("aus1acmeplatform");
    const info = okta.node.metadata.filter((m) => m.type === "@cdktf/info").map((m) => String(m.data));
    expect(info).toEqual([expect.stringContaining("no access policy added to the existing authorization server")]);
  });

  it("adds its access policy at the priority chosen, allowing the scopes given to the server or to the apps", () => {
    const stack = teamStack();
    const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);
    // existing scopes handed the imported server itself, before the apps and their policy exist ...
    McpScopes.fromScopeNames(stack, "Existing", {
      authServer: server,
      names: ["tickets:read", "tickets:admin"],
      privileged: ["tickets:admin"],
    });
    const okta = new OktaApps(stack, "Agents", {
      name: "agents",
      authServer: server,
      userApp: USER_APP,
      accessPolicy: { priority: 4 },
    });
    // ... and new scopes handed the apps
    new McpScopes(stack, "Scopes", { authServer: okta, scopes: ["mcp:read"], privileged: [] });
    const tf = synthJson(stack);
    expect(single(tf, "okta_auth_server_policy")).toMatchObject({ priority: 4, auth_server_id: "aus1acmeplatform" });
    const rules = resources(tf, "okta_auth_server_policy_rule");
    expect(rules.find((r) => r.name === "users")?.scope_whitelist).toEqual([
      "openid",
      "profile",
      "email",
      "offline_access",
      "mcp:read",
      "tickets:admin",
      "tickets:read",
    ]);
    expect(rules.find((r) => r.name === "agents")?.scope_whitelist).toEqual(["mcp:read", "tickets:read"]);
    expect(resources(tf, "okta_auth_server")).toEqual([]);
  });

  it("refuses a priority that is not a positive integer, at the OktaApps being built", () => {
    expect(() => onExistingServer({ priority: 0 })).toThrow(
      /^team\/Agents: OktaApps\.accessPolicy\.priority: expected an integer ≥ 1 .*got 0/,
    );
  });

  it("declares the gateway's URL once: gatewayUri and an existing server do not go together", () => {
    const stack = teamStack();
    const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);
    expect(
      () =>
        // @ts-expect-error the props type allows gatewayUri or authServer, not both
        new OktaApps(stack, "Agents", {
          name: "a",
          authServer: server,
          gatewayUri: "https://other.example",
          userApp: USER_APP,
        }),
    ).toThrow(/^team\/Agents: OktaApps: set gatewayUri or authServer, not both/);
  });

  it("the deprecated existingAuthServer prop no longer adds a policy at priority 1", () => {
    const stack = teamStack();
    new OktaApps(stack, "Agents", {
      name: "a",
      gatewayUri: "https://agents.acme.example",
      existingAuthServer: { id: "aus1acmeplatform", issuer: "https://acme.okta.com/oauth2/aus1acmeplatform" },
      userApp: USER_APP,
    });
    const tf = synthJson(stack);
    expect(resources(tf, "okta_auth_server_policy")).toEqual([]);
    expect(resources(tf, "okta_auth_server")).toEqual([]);
  });
});

describe("an existing server Terraform cannot look up", () => {
  it("uses the issuer given and says, as a warning, that nothing checks its audience", () => {
    const stack = teamStack();
    const server = OktaApps.fromAuthServerId(stack, "TeamServer", {
      authServerId: "aus1acmeplatform",
      issuer: "https://acme.okta.com/oauth2/aus1acmeplatform",
      audience: "https://agents.acme.example",
    });
    const tf = synthJson(stack);
    expect(dataOf(tf).okta_auth_server).toBeUndefined();
    expect(server.jwksUri).toBe("https://acme.okta.com/oauth2/aus1acmeplatform/v1/keys");
    const warnings = server.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringContaining("set name to have Terraform check")]);
  });
});

describe("the gateway URL known only at apply", () => {
  it("is checked against the server's audiences by reference", () => {
    const stack = teamStack();
    const url = new TerraformVariable(stack, "gateway_url", { type: "string" }).stringValue;
    OktaApps.fromAuthServerId(stack, "TeamServer", { ...SERVER, audience: url });
    const lookup = Object.values(dataOf(synthJson(stack)).okta_auth_server ?? {})[0];
    expect(postconditions(lookup)[1]?.condition).toBe("${contains(self.audiences, var.gateway_url)}");
  });
});

describe("bad references fail where they are made, naming the prop and the fix", () => {
  const stack = teamStack();
  const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);

  it.each([
    [
      { ...SERVER, audience: "agents.acme.example" },
      /^team\/Bad1: OktaApps\.fromAuthServerId\.audience: expected the gateway's public URL, an absolute http\(s\) URL, got "agents\.acme\.example"/,
    ],
    [
      { ...SERVER, authServerId: "" },
      /^team\/Bad2: OktaApps\.fromAuthServerId\.authServerId: expected the server's id/,
    ],
  ])("server %#", (attrs, message) => {
    const id = attrs.authServerId === "" ? "Bad2" : "Bad1";
    expect(() => OktaApps.fromAuthServerId(stack, id, attrs)).toThrow(message);
  });

  it("a privileged scope that is not one of the existing names", () => {
    expect(() =>
      McpScopes.fromScopeNames(stack, "Scopes1", {
        authServer: server,
        names: ["a:read"],
        privileged: ["a:write" as "a:read"],
      }),
    ).toThrow(/^team\/Scopes1: McpScopes\.fromScopeNames\.privileged: "a:write" is not one of names \(a:read\)/);
  });

  it("an empty list of existing scopes", () => {
    expect(() => McpScopes.fromScopeNames(stack, "Scopes2", { authServer: server, names: [] })).toThrow(
      /^team\/Scopes2: McpScopes\.fromScopeNames\.names: list the existing scopes/,
    );
  });
});

describe("grants on imported scopes", () => {
  const stack = teamStack();
  const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);
  const scopes = McpScopes.fromScopeNames(stack, "TeamScopes", {
    authServer: server,
    names: ["tickets:read", "tickets:write"],
  });
  const tickets = GatewayRoute.mcp(stack, "Tickets", {
    upstreamId: "tickets",
    url: "https://tickets.acme.example/mcp",
  });
  const openai = GatewayRoute.llm(stack, "OpenAI", {
    pathPrefix: "/openai",
    providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
  });

  it("are recorded like grants on created scopes", () => {
    const grant = scopes.grantTools("tickets:read", tickets, "get_*", "search_*");
    const deny = scopes.denyTools(tickets, ["export_*"], "bulk export goes through the data team");
    expect(scopes.grants).toEqual([grant]);
    expect(scopes.denies).toEqual([deny]);
    expect(grant).toMatchObject({ scope: "tickets:read", tools: ["get_*", "search_*"] });
    expect(grant.upstream).toBe(tickets);
  });

  it("name only existing scopes and MCP upstreams, in the editor and at the call", () => {
    // @ts-expect-error "tickets:raed" is not one of the names
    expect(() => scopes.grantTools("tickets:raed", tickets, "get_*")).not.toThrow(); // TG-SCOPE-002 reports it at synth
    // @ts-expect-error an LLM route is not an MCP upstream
    expect(() => scopes.grantTools("tickets:read", openai, "*")).toThrow(
      /^team\/TeamScopes: McpScopes\.fromScopeNames\.grantTools\("tickets:read", "openai"\): not an MCP upstream/,
    );
    expect(() => scopes.grantTools("tickets:write", tickets)).toThrow(
      /^team\/TeamScopes: McpScopes\.fromScopeNames\.grantTools\("tickets:write", "tickets"\): give at least one tool pattern/,
    );
  });
});

describe("the synth checks on imported scopes", () => {
  it("refuse a destructive tool and a scope that does not exist, as on created scopes", () => {
    const stack = teamStack();
    const server = OktaApps.fromAuthServerId(stack, "TeamServer", SERVER);
    const scopes = McpScopes.fromScopeNames(stack, "TeamScopes", {
      authServer: server,
      names: ["tickets:write"] as string[],
    });
    const tickets = GatewayRoute.mcp(stack, "Tickets", {
      upstreamId: "tickets",
      url: "https://tickets.acme.example/mcp",
    });
    scopes.grantTools("tickets:write", tickets, "delete_ticket");
    scopes.grantTools("tickets:wirte", tickets, "update_ticket");
    const errors = checkErrors(stack);
    expect(errors).toContainEqual(
      expect.stringMatching(/^\[TG-TOOL-001\].*"delete_ticket"\) grants a destructive tool/),
    );
    expect(errors).toContainEqual(expect.stringMatching(/^\[TG-SCOPE-002\].*scope "tickets:wirte" does not exist/));
  });
});

describe("McpScopes with its scopes written out", () => {
  it("accepts only those names in grantTools", () => {
    const stack = teamStack();
    const okta = new OktaApps(stack, "Okta", { name: "n", gatewayUri: "https://gw.acme.example", userApp: USER_APP });
    const scopes = new McpScopes(stack, "Scopes", {
      authServer: okta,
      scopes: ["docs:read", { name: "docs:admin", consent: "REQUIRED" }],
      privileged: ["docs:admin"],
    });
    const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
    scopes.grantTools("docs:read", docs, "get_*");
    // @ts-expect-error "mcp:read" is not one of this set's scopes
    scopes.grantTools("mcp:read", docs, "get_*");
    // @ts-expect-error a privileged scope must be one of the scopes
    new McpScopes(stack, "Scopes2", { authServer: okta, scopes: ["docs:read"], privileged: ["docs:write"] });
    expect(scopes.names).toEqual(["docs:read", "docs:admin"]);
  });
});
