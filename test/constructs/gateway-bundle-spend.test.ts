/** GatewayBundle's typed `spend`: budgets name Agent and GatewayRoute constructs, reach the bundle as the schema expects, mistakes fail synth. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { Testing, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { validateRuntimeBundle } from "../../policies/bundle/index.js";
import {
  Agent,
  GatewayBundle,
  type GatewayBundleProps,
  GatewayRoute,
  GuardPolicy,
  McpScopes,
  OktaApps,
} from "../../constructs/index.js";
import { DIGEST } from "./fixtures.js";
import { environmentStack, synthJson, testAppDir } from "./synth-helpers.js";

type Routes = { docs: GatewayRoute; chat: GatewayRoute; stray: GatewayRoute };

/** A stack with Okta, an MCP upstream, an LLM route, a GatewayBundle with `spend` and an agent `reader` on it. */
function stackWith(spend: (routes: Routes) => GatewayBundleProps["spend"]) {
  const stack = new TerraformStack(Testing.app({ outdir: testAppDir() }), "spend");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  const okta = new OktaApps(stack, "Okta", {
    name: "spend",
    gatewayUri: "https://agents.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
  });
  const scopes = new McpScopes(stack, "Scopes", { authServer: okta });
  const docs = GatewayRoute.mcp(stack, "Docs", { upstreamId: "docs", url: "https://docs.acme.example/mcp" });
  const chat = GatewayRoute.llm(stack, "Chat", {
    pathPrefix: "/chat",
    providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
  });
  const stray = GatewayRoute.llm(stack, "Stray", {
    pathPrefix: "/stray",
    providers: [{ id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKeyEnv: "OPENAI_API_KEY" }],
  });
  const bundle = new GatewayBundle(stack, "Gateway", {
    name: "gateway",
    environment: "dev",
    authServer: okta,
    clients: okta,
    scopes,
    routes: [docs, chat],
    defaultPolicy: new GuardPolicy(stack, "Default", {}),
    spend: spend({ docs, chat, stray }),
  });
  const agent = (id: string, gateway: GatewayBundle = bundle) =>
    new Agent(stack, `Agent-${id}`, {
      agentId: id,
      authServer: okta,
      clients: okta,
      gateway,
      scopeSet: scopes,
      scopes: ["mcp:read"],
      runtime: { runtimeName: `spend_${id}`, imageDigest: DIGEST },
      publicJwks: [{ kty: "EC", x: "x", y: "y", kid: id }],
    });
  return { stack, okta, scopes, bundle, agent, routes: { docs, chat, stray } };
}

/** The runtime's view of the bundle: apply-time values filled in, every default applied. */
function runtimeSpend(bundle: GatewayBundle) {
  const loaded = validateRuntimeBundle(bundle.bundle(), {
    values: Object.fromEntries(Object.keys(bundle.applyTimeValues()).map((name) => [name, "https://x.example"])),
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
  return loaded.bundle.spend;
}

describe("GatewayBundle spend", () => {
  it("emits prices and budgets naming the agent and route by id, in the shape the runtime loads", () => {
    const { stack, bundle, agent } = stackWith(({ chat }) => ({
      defaultPrices: false,
      prices: { "my-finetune": { input: 3, cachedInput: 0.3, output: 12 } },
      unknownModelPrice: { input: 10, output: 30 },
      budgets: [{ id: "chat-hourly", per: "route", route: chat, window: { seconds: 3600 }, maxUsd: 50 }],
    }));
    const reader = agent("reader");
    bundle.addSpendBudget({ id: "reader-monthly", per: "agent", agent: reader, window: "month", maxUsd: 200 });
    bundle.addSpendBudget({ id: "reader-daily", per: "user", agent: reader, window: "day", maxUsd: 2.5 });
    synthJson(stack);
    expect(bundle.bundle().spend).toEqual({
      defaultPrices: false,
      prices: { "my-finetune": { input: 3, cachedInput: 0.3, output: 12 } },
      unknownModelPrice: { input: 10, output: 30 },
      budgets: [
        { id: "chat-hourly", per: "route", route: "chat", window: { seconds: 3600 }, maxUsd: 50 },
        { id: "reader-monthly", per: "agent", agent: "reader", window: "month", maxUsd: 200 },
        { id: "reader-daily", per: "user", agent: "reader", window: "day", maxUsd: 2.5 },
      ],
    });
    expect(runtimeSpend(bundle)?.budgets.map((b) => b.id)).toEqual(["chat-hourly", "reader-monthly", "reader-daily"]);
  });

  it("leaves spend out when unset, so existing bundles keep their content and digest", () => {
    const { bundle } = stackWith(() => undefined);
    expect(bundle.bundle()).not.toHaveProperty("spend");
    expect(runtimeSpend(bundle)).toEqual({ defaultPrices: true, prices: {}, budgets: [] });
  });

  it("fails synth on a budget of an agent of another gateway, naming the field and the fix", () => {
    const { stack, okta, scopes, bundle, agent } = stackWith(() => ({}));
    const other = new GatewayBundle(stack, "Other", {
      name: "other",
      environment: "dev",
      authServer: okta,
      scopes,
      routes: [],
      defaultPolicy: new GuardPolicy(stack, "OtherPolicy", {}),
    });
    const stranger = agent("stranger", other);
    bundle.addSpendBudget({ id: "stranger-monthly", per: "agent", agent: stranger, window: "month", maxUsd: 10 });
    expect(() => synthJson(stack)).toThrow(
      /GatewayBundle "gateway" spend\.budgets\["stranger-monthly"\]\.agent: agent "stranger" \(spend\/Agent-stranger\) is not an agent of this bundle: create the Agent with this bundle's gateway/,
    );
  });

  it("fails synth on duplicate budget ids, a cap of 0, a route outside the bundle or an MCP route", () => {
    const { stack } = stackWith(({ docs, stray }) => ({
      budgets: [
        { id: "daily", per: "user", window: "day", maxUsd: 5 },
        { id: "daily", per: "user", window: "month", maxUsd: 50 },
        { id: "free", per: "user", window: "day", maxUsd: 0 },
        { id: "stray", per: "route", route: stray, window: "day", maxUsd: 5 },
        { id: "docs", per: "route", route: docs, window: "day", maxUsd: 5 },
      ],
    }));
    const thrown = (() => {
      try {
        synthJson(stack);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    })();
    expect(thrown).toContain('spend.budgets: id "daily" is used by two budgets: give each its own id');
    expect(thrown).toContain('spend.budgets["free"].maxUsd: expected an amount above 0 US dollars, got 0');
    expect(thrown).toContain(
      'spend.budgets["stray"].route: route spend/Stray ("stray") is not one of this bundle\'s routes: add it to routes',
    );
    expect(thrown).toContain('spend.budgets["docs"].route: route spend/Docs ("docs") is an MCP route');
  });

  it("fails synth on a per-agent budget of a bundle without agents, a bad window and a negative price", () => {
    const { stack } = stackWith(() => ({
      prices: { "gpt-x": { input: -1, output: 2 } },
      budgets: [
        { id: "agents", per: "agent", window: "day", maxUsd: 5 },
        { id: "odd", per: "user", window: { seconds: 30 }, maxUsd: 5 },
        { id: "Not_An_Id", per: "user", window: "day", maxUsd: 5 },
      ],
    }));
    expect(() => synthJson(stack)).toThrow(
      /spend\.budgets\["agents"\]\.per: "agent" counts each of this bundle's agents, and it has none/,
    );
    expect(() => synthJson(stack)).toThrow(/spend\.budgets\["odd"\]\.window\.seconds: expected whole seconds from 60/);
    expect(() => synthJson(stack)).toThrow(/spend\.budgets: id "Not_An_Id" is not a lower-case id/);
    expect(() => synthJson(stack)).toThrow(/spend\.prices\["gpt-x"\]\.input: expected US dollars per million tokens/);
  });

  it("refuses a budget added after the bundle was assembled", () => {
    const { bundle } = stackWith(() => ({}));
    bundle.bundle();
    expect(() => bundle.addSpendBudget({ id: "late", per: "user", window: "day", maxUsd: 1 })).toThrow(
      /addSpendBudget\(late\) after the bundle was assembled/,
    );
  });
});

describe("the default environment's spend budgets", () => {
  for (const name of ["dev", "prod"] as const)
    it(`${name}: a per-user daily cap and a monthly cap per agent, different for triage and coding`, () => {
      const stack = environmentStack(name);
      synthJson(stack);
      const spend = stack.platform.bundle.bundle().spend;
      const monthly = Object.fromEntries(
        (spend?.budgets ?? []).filter((b) => b.per === "agent").map((b) => [b.agent, b.maxUsd]),
      );
      expect(spend?.budgets?.map((b) => `${b.id} ${b.per} ${b.agent ?? "*"} ${JSON.stringify(b.window)}`)).toEqual([
        'user-daily user * "day"',
        'triage-monthly agent triage "month"',
        'coding-monthly agent coding "month"',
      ]);
      expect(monthly.triage).toBeLessThan(monthly.coding!);
      // grok-4 (the xAI route) has no default price: the environment prices it, or its budgeted calls are refused.
      expect(spend?.prices?.["grok-4"]).toMatchObject({ input: 3, output: 15 });
    });
});
