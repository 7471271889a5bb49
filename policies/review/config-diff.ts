/**
 * Non-tool changes of one gateway: LLM routes and providers, MCP upstreams, guard modes and limits,
 * which guard policy a route or the MCP endpoint uses, and token-acceptance settings. Each is
 * classified: a new route, provider or upstream widens what callers can reach (and where data goes);
 * a weaker guard or a larger budget loosens.
 */
import type { SynthBundle } from "../bundle/index.js";
import { canonicalJson } from "../bundle/index.js";
import type { Budget, Change, Effect, GuardLevel, GuardName } from "./types.js";

type Policy = SynthBundle["guardPolicies"][number];

const GUARD_ORDER: readonly GuardLevel[] = ["off", "log", "mask", "block"];
const GUARDS: readonly GuardName[] = ["pii", "promptInjection", "credentialLeak"];
const GUARD_LABEL: Record<GuardName, string> = {
  pii: "PII",
  promptInjection: "prompt injection",
  credentialLeak: "credential leak",
};

/** A guard's strictness; an absent guard is `off`. */
export function guardLevel(policy: Policy | undefined, guard: GuardName): GuardLevel {
  return policy?.[guard]?.mode ?? "off";
}

/** Strictness ordering: `off < log < mask < block`. Positive when `b` is stricter than `a`. */
export function compareGuardLevels(a: GuardLevel, b: GuardLevel): number {
  return GUARD_ORDER.indexOf(b) - GUARD_ORDER.indexOf(a);
}

function budget(policy: Policy | undefined, limit: "requests" | "tokens"): Budget {
  const limits = policy?.limits;
  const perWindow = limit === "requests" ? limits?.requestsPerWindow : limits?.tokensPerWindow;
  return limits && perWindow !== undefined ? { perWindow, windowSeconds: limits.windowSeconds } : null;
}

/** Positive when `b` allows more per second than `a` (unlimited allows most). */
function compareBudgets(a: Budget, b: Budget): number {
  const rate = (x: Budget) => (x === null ? Infinity : x.perWindow / x.windowSeconds);
  const [ra, rb] = [rate(a), rate(b)];
  return ra === rb ? 0 : rb > ra ? 1 : -1;
}

const formatBudget = (b: Budget, unit: string) =>
  b === null ? "unlimited" : `${b.perWindow} ${unit}/${b.windowSeconds}s`;

function byId<T extends { id: string }>(items: readonly T[] | undefined): Map<string, T> {
  return new Map((items ?? []).map((item) => [item.id, item]));
}

const ids = (...maps: Map<string, unknown>[]) => [...new Set(maps.flatMap((m) => [...m.keys()]))].sort();

/** Guard and limit changes between two versions of a policy, as seen by its users. */
function policyChanges(gateway: string, label: string, a: Policy | undefined, b: Policy | undefined): Change[] {
  const changes: Change[] = [];
  for (const guard of GUARDS) {
    const before = guardLevel(a, guard);
    const after = guardLevel(b, guard);
    const order = compareGuardLevels(before, after);
    if (order === 0) continue;
    const effect: Effect = order > 0 ? "narrowing" : "widening";
    changes.push({
      kind: "guard-mode",
      effect,
      gateway,
      policy: label,
      guard,
      before,
      after,
      summary: `${GUARD_LABEL[guard]} guard of ${label} ${order > 0 ? "tightened" : "loosened"}: ${before} → ${after}`,
    });
  }
  for (const limit of ["requests", "tokens"] as const) {
    const before = budget(a, limit);
    const after = budget(b, limit);
    const order = compareBudgets(before, after);
    if (order === 0) continue;
    const effect: Effect = order > 0 ? "widening" : "narrowing";
    changes.push({
      kind: "limit",
      effect,
      gateway,
      policy: label,
      limit,
      before,
      after,
      summary: `${limit} limit of ${label} ${order > 0 ? "raised" : "lowered"}: ${formatBudget(before, limit)} → ${formatBudget(after, limit)}`,
    });
  }
  return changes;
}

/** Widening if the new policy loosens anything, else narrowing if it tightens anything. */
function bindingEffect(a: Policy | undefined, b: Policy | undefined): Effect {
  const effects = policyChanges("", "", a, b).map((c) => c.effect);
  return effects.includes("widening") ? "widening" : effects.includes("narrowing") ? "narrowing" : "neutral";
}

export function diffConfig(gateway: string, base: SynthBundle | undefined, head: SynthBundle | undefined): Change[] {
  const changes: Change[] = [];
  const policiesA = byId(base?.guardPolicies);
  const policiesB = byId(head?.guardPolicies);

  const routesA = byId(base?.llm.routes);
  const routesB = byId(head?.llm.routes);
  for (const id of ids(routesA, routesB)) {
    const a = routesA.get(id);
    const b = routesB.get(id);
    if (!a || !b) {
      changes.push({
        kind: "route",
        effect: b ? "widening" : "narrowing",
        gateway,
        route: id,
        change: b ? "added" : "removed",
        summary: `LLM route ${id} ${b ? `added (${b.pathPrefix})` : "removed"}`,
      });
      continue;
    }
    const providersA = byId(a.providers);
    const providersB = byId(b.providers);
    for (const p of ids(providersA, providersB)) {
      const added = providersB.has(p);
      if (added === providersA.has(p)) continue;
      changes.push({
        kind: "provider",
        effect: added ? "widening" : "narrowing",
        gateway,
        route: id,
        provider: p,
        change: added ? "added" : "removed",
        summary: `provider ${p} ${added ? "added to" : "removed from"} route ${id}`,
      });
    }
    if (a.policy !== b.policy) {
      const effect = bindingEffect(policiesA.get(a.policy), policiesB.get(b.policy));
      changes.push({
        kind: "policy-binding",
        effect,
        gateway,
        target: `route ${id}`,
        before: a.policy,
        after: b.policy,
        summary: `route ${id} now uses guard policy ${b.policy} instead of ${a.policy}`,
      });
    }
  }

  const upstreamsA = byId(base?.mcp?.upstreams);
  const upstreamsB = byId(head?.mcp?.upstreams);
  for (const id of ids(upstreamsA, upstreamsB)) {
    const a = upstreamsA.get(id);
    const b = upstreamsB.get(id);
    if (!a || !b) {
      changes.push({
        kind: "upstream",
        effect: b ? "widening" : "narrowing",
        gateway,
        upstream: id,
        change: b ? "added" : "removed",
        summary: `MCP upstream ${id} ${b ? "added" : "removed"}`,
      });
      continue;
    }
    const fields = (["transport", "credentials", "timeoutMs"] as const).filter(
      (f) => canonicalJson(a[f]) !== canonicalJson(b[f]),
    );
    if (fields.length > 0)
      changes.push({
        kind: "upstream",
        effect: "neutral",
        gateway,
        upstream: id,
        change: "changed",
        fields,
        summary: `MCP upstream ${id} changed: ${fields.join(", ")}`,
      });
  }
  if (base?.mcp && head?.mcp && base.mcp.policy !== head.mcp.policy) {
    const effect = bindingEffect(policiesA.get(base.mcp.policy), policiesB.get(head.mcp.policy));
    changes.push({
      kind: "policy-binding",
      effect,
      gateway,
      target: "mcp",
      before: base.mcp.policy,
      after: head.mcp.policy,
      summary: `MCP tools now use guard policy ${head.mcp.policy} instead of ${base.mcp.policy}`,
    });
  }

  for (const id of ids(policiesA, policiesB)) {
    const a = policiesA.get(id);
    const b = policiesB.get(id);
    if (a && b) changes.push(...policyChanges(gateway, id, a, b));
  }

  if (base && head) changes.push(...authChanges(gateway, base, head));
  return changes;
}

/** Token acceptance: more audiences or clients, or no client allow-list, accept more tokens. */
function authChanges(gateway: string, base: SynthBundle, head: SynthBundle): Change[] {
  const changes: Change[] = [];
  const setChange = (
    field: string,
    a: readonly unknown[] | undefined,
    b: readonly unknown[] | undefined,
    unsetMeansAll: boolean,
  ) => {
    if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) return;
    const sa = new Set((a ?? []).map((x) => canonicalJson(x)));
    const sb = new Set((b ?? []).map((x) => canonicalJson(x)));
    // With `unsetMeansAll`, an absent list accepts everything: going to or from it decides alone.
    const allToSome = unsetMeansAll && a === undefined;
    const someToAll = unsetMeansAll && b === undefined;
    const widened = someToAll || (!allToSome && [...sb].some((x) => !sa.has(x)));
    const narrowed = allToSome || (!someToAll && [...sa].some((x) => !sb.has(x)));
    const effect: Effect = widened ? "widening" : narrowed ? "narrowing" : "neutral";
    changes.push({
      kind: "auth",
      effect,
      gateway,
      field,
      before: a ?? null,
      after: b ?? null,
      summary: `auth.${field} changed: ${canonicalJson(a ?? "any")} → ${canonicalJson(b ?? "any")}`,
    });
  };
  setChange("audiences", base.auth.audiences, head.auth.audiences, false);
  setChange("allowedClients", base.auth.allowedClients, head.auth.allowedClients, true);
  setChange("algorithms", base.auth.algorithms, head.auth.algorithms, false);
  // A larger bound accepts more tokens (older, longer-lived, larger, from larger documents, on older keys).
  const bound = (field: keyof typeof base.auth & string, a: number, b: number) => {
    if (a === b) return;
    const effect: Effect = b > a ? "widening" : "narrowing";
    changes.push({ kind: "auth", effect, gateway, field, before: a, after: b, summary: `auth.${field}: ${a} → ${b}` });
  };
  bound("maxTokenAgeSeconds", base.auth.maxTokenAgeSeconds, head.auth.maxTokenAgeSeconds);
  bound("clockSkewSeconds", base.auth.clockSkewSeconds, head.auth.clockSkewSeconds);
  bound("maxTokenBytes", base.auth.maxTokenBytes, head.auth.maxTokenBytes);
  bound("maxIssuerDocumentBytes", base.auth.maxIssuerDocumentBytes, head.auth.maxIssuerDocumentBytes);
  bound("jwksCacheMaxAgeSeconds", base.auth.jwksCacheMaxAgeSeconds, head.auth.jwksCacheMaxAgeSeconds);
  // A check turned off accepts tokens it refused (ID tokens, tokens without typ at+jwt).
  const check = (field: keyof typeof base.auth & string, a: boolean, b: boolean) => {
    if (a === b) return;
    const effect: Effect = a && !b ? "widening" : "narrowing";
    changes.push({ kind: "auth", effect, gateway, field, before: a, after: b, summary: `auth.${field}: ${a} → ${b}` });
  };
  check("requireScopeClaim", base.auth.requireScopeClaim, head.auth.requireScopeClaim);
  check("requireAccessTokenType", base.auth.requireAccessTokenType, head.auth.requireAccessTokenType);
  // Reading scopes or the client from another claim can grant a token scopes it was never meant to carry.
  for (const field of ["scopeClaim", "clientClaims"] as const) {
    const [a, b] = [base.auth[field], head.auth[field]];
    if (canonicalJson(a) === canonicalJson(b)) continue;
    changes.push({
      kind: "auth",
      effect: "widening",
      gateway,
      field,
      before: a,
      after: b,
      summary: `auth.${field} changed: ${canonicalJson(a)} → ${canonicalJson(b)}`,
    });
  }
  if (base.auth.issuer !== head.auth.issuer) {
    changes.push({
      kind: "auth",
      effect: "neutral",
      gateway,
      field: "issuer",
      before: base.auth.issuer,
      after: head.auth.issuer,
      summary: `auth.issuer changed`,
    });
  }
  return changes;
}
