/**
 * Which Okta client (agent) may request which scopes, read from a stack's synthesized Terraform:
 * an `okta_auth_server_policy` lists the clients it applies to (`client_whitelist`), and each of its
 * `okta_auth_server_policy_rule`s lists the scopes it grants (`scope_whitelist`). Clients are named by
 * their `okta_app_oauth` label. Scopes granted to `ALL_CLIENTS` apply to every app of the stack. A rule
 * counts for a client only if the app may use one of the rule's grant types (an agent app limited to
 * client credentials does not get the scopes of an authorization-code rule for humans).
 */
import type { ClientScopes } from "./authority.js";
import type { Change, TerraformJson } from "./types.js";

const REF = /^\$\{([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$/;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Client label → scopes it may request, or an empty map when the stack has no Okta policy rules. */
export function clientScopesOf(tf: TerraformJson | undefined): Map<string, Set<string>> {
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
  // A rule applies to a client only through a grant type both allow (when both say which).
  const grantTypesOf = new Map(Object.entries(apps).map(([name, app]) => [labelOf(name), strings(app["grant_types"])]));
  const canUse = (client: string, ruleGrantTypes: string[]) => {
    const appGrantTypes = grantTypesOf.get(client) ?? [];
    return (
      ruleGrantTypes.length === 0 || appGrantTypes.length === 0 || ruleGrantTypes.some((g) => appGrantTypes.includes(g))
    );
  };
  const out = new Map<string, Set<string>>();
  for (const rule of Object.values(resources["okta_auth_server_policy_rule"] ?? {})) {
    const ruleGrantTypes = strings(rule["grant_type_whitelist"]);
    for (const client of clientsOfPolicy(rule["policy_id"]).filter((c) => canUse(c, ruleGrantTypes))) {
      const set = out.get(client) ?? new Set<string>();
      for (const scope of strings(rule["scope_whitelist"])) set.add(scope);
      out.set(client, set);
    }
  }
  return out;
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
  for (const client of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const before = [...(a.get(client) ?? [])].sort();
    const after = [...(b.get(client) ?? [])].sort();
    clients.push({ client, base: before, head: after });
    for (const scope of after.filter((s) => !before.includes(s))) {
      changes.push({
        kind: "client-scope",
        effect: "widening",
        gateway: stack,
        client,
        scope,
        change: "added",
        summary: `client ${client} may now request ${scope}`,
      });
    }
    for (const scope of before.filter((s) => !after.includes(s))) {
      changes.push({
        kind: "client-scope",
        effect: "narrowing",
        gateway: stack,
        client,
        scope,
        change: "removed",
        summary: `client ${client} may no longer request ${scope}`,
      });
    }
  }
  return { clients, changes };
}
