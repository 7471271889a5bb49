/**
 * Per-agent authority for `tollgate diff`: the bundle's `agents` on both sides. An agent added or removed, a scope
 * of its ceiling added or removed, and (through `diffAuthority`) the tools it reaches alone and acting for a user.
 *
 * Alone, an agent holds its ceiling without the privileged scopes: Okta never issues a consent-gated scope to
 * client credentials (read from the stack's `okta_auth_server_scope`s, `consent: REQUIRED`). Acting for a user it
 * holds user ∩ agent; asked for the widest user, who may hold every scope the gateway supports.
 */
import type { SynthBundle } from "../bundle/index.js";
import type { AgentScopes } from "./authority.js";
import type { Change, TerraformJson } from "./types.js";

type AgentEntry = SynthBundle["agents"][number];

function agentsOf(bundle: SynthBundle | undefined): Map<string, AgentEntry> {
  return new Map((bundle?.agents ?? []).map((a) => [a.id, a]));
}

/** Scopes only a human may grant: `consent: REQUIRED` on the stack's Okta scopes (none without Terraform). */
export function privilegedScopesOf(tf: TerraformJson | undefined): Set<string> {
  const scopes = Object.values(tf?.resource?.["okta_auth_server_scope"] ?? {});
  return new Set(
    scopes.flatMap((s) => (s["consent"] === "REQUIRED" && typeof s["name"] === "string" ? [s["name"]] : [])),
  );
}

/** What each agent holds on each side, alone and acting for a user, for `diffAuthority`. */
export function agentScopes(
  base: SynthBundle | undefined,
  head: SynthBundle | undefined,
  privileged: { readonly base: ReadonlySet<string>; readonly head: ReadonlySet<string> },
): AgentScopes[] {
  const before = agentsOf(base);
  const after = agentsOf(head);
  const alone = (agent: AgentEntry | undefined, consentGated: ReadonlySet<string>) =>
    (agent?.scopes ?? []).filter((s) => !consentGated.has(s));
  const forUser = (agent: AgentEntry | undefined, bundle: SynthBundle | undefined) => {
    const userMay = new Set(bundle?.protectedResource.scopesSupported ?? []);
    return (agent?.scopes ?? []).filter((s) => userMay.has(s));
  };
  return [...new Set([...before.keys(), ...after.keys()])].sort().flatMap((id) => [
    {
      agent: id,
      forUser: false,
      base: alone(before.get(id), privileged.base),
      head: alone(after.get(id), privileged.head),
    },
    { agent: id, forUser: true, base: forUser(before.get(id), base), head: forUser(after.get(id), head) },
  ]);
}

/** Agents added or removed, and scopes added to or removed from an agent's ceiling. */
export function diffAgents(gateway: string, base: SynthBundle | undefined, head: SynthBundle | undefined): Change[] {
  const before = agentsOf(base);
  const after = agentsOf(head);
  const changes: Change[] = [];
  for (const id of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const was = before.get(id);
    const is = after.get(id);
    if (!was || !is) {
      const scopes = [...(is ?? was)!.scopes];
      changes.push({
        kind: "agent",
        effect: is ? "widening" : "narrowing",
        gateway,
        agent: id,
        change: is ? "added" : "removed",
        scopes,
        summary: is
          ? `agent ${id} added, with scopes ${scopes.join(", ")}`
          : `agent ${id} removed (it held ${scopes.join(", ")})`,
      });
      continue;
    }
    for (const scope of is.scopes.filter((s) => !was.scopes.includes(s)))
      changes.push({
        kind: "agent-scope",
        effect: "widening",
        gateway,
        agent: id,
        scope,
        change: "added",
        summary: `agent ${id} may now exercise ${scope}`,
      });
    for (const scope of was.scopes.filter((s) => !is.scopes.includes(s)))
      changes.push({
        kind: "agent-scope",
        effect: "narrowing",
        gateway,
        agent: id,
        scope,
        change: "removed",
        summary: `agent ${id} may no longer exercise ${scope}`,
      });
    if (was.clientId !== is.clientId)
      changes.push({
        kind: "auth",
        effect: "neutral",
        gateway,
        field: `agents.${id}.clientId`,
        before: was.clientId,
        after: is.clientId,
        summary: `agent ${id} is now the client ${is.clientId} (was ${was.clientId})`,
      });
  }
  return changes;
}
