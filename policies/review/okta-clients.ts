/**
 * Which Okta client (agent) may request which scopes, read from a stack's synthesized Terraform:
 * an `okta_auth_server_policy` lists the clients it applies to (`client_whitelist`), and each of its
 * `okta_auth_server_policy_rule`s lists the scopes it grants (`scope_whitelist`). Clients are named by
 * their `okta_app_oauth` label. Scopes granted to `ALL_CLIENTS` apply to every app of the stack. A rule
 * counts for a client only through the grant types both the rule and the app allow, and each client is
 * seen twice when it may: alone (client credentials) and on behalf of a user (a token exchange by an agent
 * app carries the user's scopes, not the app's).
 */
import type { ClientScopes } from "./authority.js";
import type { Change, TerraformJson } from "./types.js";

const REF = /^\$\{([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$/;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/**
 * How a client gets its tokens: alone (client credentials: unattended, no user present) or on behalf of a
 * user (authorization code, token exchange, refresh). The same app may do both, with different scopes.
 */
export type ClientGrant = "unattended" | "user";

const grantOf = (grantType: string): ClientGrant => (grantType === "client_credentials" ? "unattended" : "user");

/** One key per client and way of getting tokens. */
const keyOf = (client: string, grant: ClientGrant) => JSON.stringify([client, grant]);

/** Scopes each client may request, per way of getting tokens; empty when the stack has no Okta policy rules. */
export function clientScopesOf(
  tf: TerraformJson | undefined,
): Map<string, { client: string; grant: ClientGrant; scopes: Set<string> }> {
  const resources = tf?.resource ?? {};
  const apps = resources["okta_app_oauth"] ?? {};
  const labelOf = (name: string) =>
    typeof apps[name]?.["label"] === "string" ? (apps[name]!["label"] as string) : name;
  const policies = resources["okta_auth_server_policy"] ?? {};
  const clientsOfPolicy = (policyRef: unknown): string[] => {
    const m = typeof policyRef === "string" ? REF.exec(policyRef) : null;
    const policy = m && m[1] === "okta_auth_server_policy" ? policies[m[2]!] : undefined;
    return strings(policy?.["client_whitelist"]).flatMap((entry) => {
      if (entry === "ALL_CLIENTS") return Object.keys(apps).map(labelOf);
      const ref = REF.exec(entry);
      return [ref && ref[1] === "okta_app_oauth" ? labelOf(ref[2]!) : entry];
    });
  };
  const grantTypesOf = new Map(Object.entries(apps).map(([name, app]) => [labelOf(name), strings(app["grant_types"])]));
  // A rule applies to a client through each grant type both allow (when one of them does not say, the other decides).
  const usable = (client: string, ruleGrantTypes: string[]): ClientGrant[] => {
    const appGrantTypes = grantTypesOf.get(client) ?? [];
    const both =
      ruleGrantTypes.length === 0
        ? appGrantTypes
        : appGrantTypes.length === 0
          ? ruleGrantTypes
          : ruleGrantTypes.filter((g) => appGrantTypes.includes(g));
    return [...new Set(both.length > 0 || ruleGrantTypes.length > 0 ? both.map(grantOf) : (["user"] as const))];
  };
  const out = new Map<string, { client: string; grant: ClientGrant; scopes: Set<string> }>();
  for (const rule of Object.values(resources["okta_auth_server_policy_rule"] ?? {})) {
    const ruleGrantTypes = strings(rule["grant_type_whitelist"]);
    for (const client of clientsOfPolicy(rule["policy_id"])) {
      for (const grant of usable(client, ruleGrantTypes)) {
        const entry = out.get(keyOf(client, grant)) ?? { client, grant, scopes: new Set<string>() };
        for (const scope of strings(rule["scope_whitelist"])) entry.scopes.add(scope);
        out.set(keyOf(client, grant), entry);
      }
    }
  }
  return out;
}

/** An `Agent`'s access policy is named `<stack>-agent-<id>` and lists only the agent's app (constructs/agent.ts). */
const AGENT_POLICY = /-agent-([a-z][a-z0-9-]{0,15})$/;

/**
 * Labels of the apps that belong to an `Agent`: their authority is the agent's (the bundle's ceiling ∩ the
 * token), reported per agent, so their client rows would repeat it.
 */
export function agentAppLabels(tf: TerraformJson | undefined): Set<string> {
  const resources = tf?.resource ?? {};
  const apps = resources["okta_app_oauth"] ?? {};
  const labels = new Set<string>();
  for (const policy of Object.values(resources["okta_auth_server_policy"] ?? {})) {
    const whitelist = strings(policy["client_whitelist"]);
    const ref = whitelist.length === 1 ? REF.exec(whitelist[0]!) : null;
    if (!ref || ref[1] !== "okta_app_oauth" || typeof policy["name"] !== "string") continue;
    if (!AGENT_POLICY.test(policy["name"])) continue;
    const label = apps[ref[2]!]?.["label"];
    labels.add(typeof label === "string" ? label : ref[2]!);
  }
  return labels;
}

/** Per-client scope sets on both sides, and the scope grants that changed. */
export function diffClientScopes(
  stack: string,
  base: TerraformJson | undefined,
  head: TerraformJson | undefined,
): { clients: ClientScopes[]; changes: Change[] } {
  const a = clientScopesOf(base);
  const b = clientScopesOf(head);
  const clients: ClientScopes[] = [];
  const changes: Change[] = [];
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const { client, grant } = (a.get(key) ?? b.get(key))!;
    const before = [...(a.get(key)?.scopes ?? [])].sort();
    const after = [...(b.get(key)?.scopes ?? [])].sort();
    const unattended = grant === "unattended";
    clients.push({ client, unattended, base: before, head: after });
    const how = unattended ? " for itself (client credentials)" : " on behalf of a user";
    for (const scope of after.filter((s) => !before.includes(s))) {
      changes.push({
        kind: "client-scope",
        effect: "widening",
        gateway: stack,
        client,
        unattended,
        scope,
        change: "added",
        summary: `client ${client} may now request ${scope}${how}`,
      });
    }
    for (const scope of before.filter((s) => !after.includes(s))) {
      changes.push({
        kind: "client-scope",
        effect: "narrowing",
        gateway: stack,
        client,
        unattended,
        scope,
        change: "removed",
        summary: `client ${client} may no longer request ${scope}${how}`,
      });
    }
  }
  return { clients, changes };
}
