/**
 * values.json in the gateway's ConfigMap is a Terraform template: `${jsonencode({ "okta.issuer" = <reference>,
 * … })}`. Terraform renders it at apply with the real Okta values. This test renders it the same way against
 * a made-up state of the referenced resources, so it checks what every key points to (the issuer of the
 * authorization server, the client ID of the right app), and that the rendered values make the ConfigMap's
 * bundle load in the runtime with each placeholder replaced by that value.
 */
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { validateRuntimeBundle } from "../../policies/bundle/index.js";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS, type EnvironmentName } from "../../stacks/environments.js";

type Resources = Record<string, Record<string, Record<string, unknown>>>;

/**
 * Renders the subset of Terraform's expression language the template uses: string literals, resource
 * attribute references, `join(sep, [..])` and `jsonencode({ key = value, .. })`. Anything else throws,
 * naming it, so a template this cannot read fails the test instead of passing unrendered.
 */
function renderTemplate(template: string, state: (reference: string) => string): string {
  const inner = /^\$\{(.*)\}$/s.exec(template)?.[1];
  if (inner === undefined) throw new Error(`not a single Terraform interpolation: ${template}`);
  let at = 0;
  const skip = () => {
    while (/\s/.test(inner[at] ?? "")) at++;
  };
  const expect = (token: string) => {
    skip();
    if (!inner.startsWith(token, at)) throw new Error(`expected ${token} at ${at}: ${inner.slice(at, at + 40)}`);
    at += token.length;
  };
  const list = <T>(close: string, item: () => T): T[] => {
    const items: T[] = [];
    skip();
    while (inner[at] !== close) {
      items.push(item());
      skip();
      if (inner[at] === ",") at++;
      skip();
    }
    at++;
    return items;
  };
  const value = (): unknown => {
    skip();
    if (inner[at] === '"') {
      const match = /^"(?:[^"\\]|\\.)*"/.exec(inner.slice(at));
      if (!match) throw new Error(`unterminated string at ${at}`);
      at += match[0].length;
      return JSON.parse(match[0]) as string;
    }
    const name = /^[A-Za-z_][\w-]*(?:\.[\w-]+)*/.exec(inner.slice(at))?.[0];
    if (!name) throw new Error(`unexpected ${inner.slice(at, at + 20)}`);
    at += name.length;
    skip();
    if (inner[at] !== "(") return state(name);
    at++;
    if (name === "join") {
      const separator = value() as string;
      expect(",");
      expect("[");
      const parts = list("]", value) as string[];
      expect(")");
      return parts.join(separator);
    }
    if (name === "jsonencode") {
      expect("{");
      const entries = list("}", () => {
        const key = value() as string;
        expect("=");
        return [key, value()] as const;
      });
      expect(")");
      return JSON.stringify(Object.fromEntries(entries));
    }
    throw new Error(`the template calls ${name}(), which this test does not render`);
  };
  const result = value();
  skip();
  if (at !== inner.length) throw new Error(`unread template text: ${inner.slice(at)}`);
  return result as string;
}

function synthesize(name: EnvironmentName): Resources {
  const stack = new EnvironmentStack(Testing.app(), ENVIRONMENTS[name]);
  return (JSON.parse(Testing.synth(stack, true)) as { resource: Resources }).resource;
}

/** Every `{{apply:name}}` in the bundle, with its JSON path. */
function placeholderPaths(node: unknown, path: (string | number)[] = []): [(string | number)[], string][] {
  if (typeof node === "string") {
    const name = /^\{\{apply:([\w.-]+)\}\}$/.exec(node)?.[1];
    return name ? [[path, name]] : [];
  }
  if (Array.isArray(node)) return node.flatMap((v, i) => placeholderPaths(v, [...path, i]));
  if (node && typeof node === "object")
    return Object.entries(node).flatMap(([k, v]) => placeholderPaths(v, [...path, k]));
  return [];
}

const at = (node: unknown, path: readonly (string | number)[]) =>
  path.reduce<unknown>((n, key) => (n as Record<string | number, unknown>)[key], node);

describe.each(["dev", "prod"] as const)("the %s ConfigMap's values.json, rendered as Terraform would", (name) => {
  const resources = synthesize(name);
  const [authServer, ...otherServers] = Object.keys(resources.okta_auth_server ?? {});
  const apps = Object.entries(resources.okta_app_oauth ?? {});
  const grants = (app: Record<string, unknown>) => (app.grant_types as string[] | undefined) ?? [];
  const userApp = apps.find(([, app]) => grants(app).includes("authorization_code"))?.[0];
  // OktaApps' agent app (the gateway's client), and each agent's own app.
  const agentApp = apps.find(([app]) => app.includes("_Okta_AgentApp"))?.[0];
  const agentApps = Object.fromEntries(
    ["triage", "coding"].map((id) => [
      id,
      apps.find(([app]) => app.includes(`_${id[0]!.toUpperCase()}${id.slice(1)}Agent_App`))?.[0],
    ]),
  );
  const issuer = "https://acme.okta.com/oauth2/aus1fake";
  /** What `terraform apply` would know about the referenced resources. */
  const state: Record<string, string> = {
    [`okta_auth_server.${authServer}.issuer`]: issuer,
    [`okta_app_oauth.${userApp}.client_id`]: "0oa1userapp",
    [`okta_app_oauth.${agentApp}.client_id`]: "0oa1agentapp",
    [`okta_app_oauth.${agentApps.triage}.client_id`]: "0oa1triage",
    [`okta_app_oauth.${agentApps.coding}.client_id`]: "0oa1coding",
  };
  const configMap = Object.values(resources.kubernetes_config_map ?? {})[0] as { data: Record<string, string> };

  it("has one authorization server, a user app, an agent app and the two agents' apps", () => {
    expect(otherServers).toEqual([]);
    expect([authServer, userApp, agentApp, agentApps.triage, agentApps.coding].every(Boolean)).toBe(true);
    expect(userApp).not.toBe(agentApp);
  });

  it("maps each key to the attribute it names: the issuer and its endpoints, each app's own client ID", () => {
    const rendered = renderTemplate(configMap.data["values.json"] ?? "", (reference) => {
      const known = state[reference];
      if (known === undefined) throw new Error(`values.json refers to ${reference}, which no key should need`);
      return known;
    });
    expect(JSON.parse(rendered)).toEqual({
      "okta.issuer": issuer,
      "okta.discoveryUrl": `${issuer}/.well-known/openid-configuration`,
      "okta.jwksUri": `${issuer}/v1/keys`,
      "okta.tokenUrl": `${issuer}/v1/token`,
      "okta.clients.user.id": "0oa1userapp",
      "okta.clients.agent.id": "0oa1agentapp",
      "okta.clients.agent-triage.id": "0oa1triage",
      "okta.clients.agent-coding.id": "0oa1coding",
    });
  });

  it("makes the ConfigMap's bundle load, each placeholder replaced by its rendered value", () => {
    const values = JSON.parse(renderTemplate(configMap.data["values.json"] ?? "", (r) => state[r] ?? "")) as Record<
      string,
      string
    >;
    const synthesized = JSON.parse(configMap.data["bundle.json"] ?? "") as unknown;
    const loaded = validateRuntimeBundle(synthesized, { values });
    expect(loaded.ok ? [] : loaded.issues).toEqual([]);
    if (!loaded.ok) return;
    const placeholders = placeholderPaths(synthesized);
    expect(placeholders.length).toBeGreaterThan(0);
    for (const [path, placeholder] of placeholders)
      expect(at(loaded.bundle, path), path.join(".")).toBe(values[placeholder]);
    expect(loaded.bundle.auth.issuer).toBe(issuer);
  });
});
