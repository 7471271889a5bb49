/**
 * `tollgate diff` as a pure function: two syntheses in, one classified report out.
 */
import type { SynthBundle } from "../bundle/index.js";
import { agentScopes, diffAgents, privilegedScopesOf } from "./agents.js";
import { diffAuthority, knownToolNames } from "./authority.js";
import { diffConfig } from "./config-diff.js";
import { diffSynthesizedResources, infrastructureWarnings, planResources } from "./infrastructure.js";
import { configMapFindings } from "./integrity.js";
import { agentAppLabels, diffClientScopes } from "./okta-clients.js";
import { diffSpend } from "./spend.js";
import type {
  AuthorityEdge,
  Change,
  TamperFinding,
  InfrastructureDiff,
  ReviewReport,
  StackSynthesis,
  Synthesis,
  TerraformPlanJson,
  ToolCatalog,
} from "./types.js";

export interface DiffOptions {
  /** Known tool names per upstream, beyond those the bundles mention. */
  readonly catalog?: ToolCatalog;
  /** `terraform show -json` plans by stack name: their actions replace the synthesized estimate. */
  readonly plans?: ReadonlyMap<string, TerraformPlanJson>;
}

const gatewayKey = (b: SynthBundle) => `${b.metadata.stack}/${b.metadata.gateway}`;

function bundlesByGateway(stacks: readonly StackSynthesis[]): Map<string, SynthBundle> {
  return new Map(stacks.flatMap((s) => s.bundles.map((b) => [gatewayKey(b), b] as const)));
}

/** Compares two syntheses: effective authority, gateway configuration, Okta clients, infrastructure. */
export function diffSyntheses(base: Synthesis, head: Synthesis, options: DiffOptions = {}): ReviewReport {
  const changes: Change[] = [];
  const authority: AuthorityEdge[] = [];
  const infrastructure: InfrastructureDiff[] = [];
  const warnings: string[] = [];
  const renamed: string[] = [];
  const tamper: TamperFinding[] = [
    ...base.stacks.flatMap((s) => [...(s.tamper ?? []), ...configMapFindings(s, "base")]),
    ...head.stacks.flatMap((s) => [...(s.tamper ?? []), ...configMapFindings(s, "head")]),
  ];

  const stacksA = new Map(base.stacks.map((s) => [s.name, s]));
  const stacksB = new Map(head.stacks.map((s) => [s.name, s]));
  const gatewaysA = bundlesByGateway(base.stacks);
  const gatewaysB = bundlesByGateway(head.stacks);
  const allBundles = [...gatewaysA.values(), ...gatewaysB.values()];
  const tools = knownToolNames(allBundles, options.catalog);

  const clientsByStack = new Map<string, ReturnType<typeof diffClientScopes>>();
  for (const stack of [...new Set([...stacksA.keys(), ...stacksB.keys()])].sort()) {
    const a = stacksA.get(stack);
    const b = stacksB.get(stack);
    const clients = diffClientScopes(stack, a?.terraform, b?.terraform);
    clientsByStack.set(stack, clients);
    changes.push(...clients.changes);
    const plan = options.plans?.get(stack);
    if (plan || a?.terraform || b?.terraform) {
      const estimate = diffSynthesizedResources(stack, a?.terraform, b?.terraform);
      const infra = plan ? planResources(stack, plan) : estimate;
      // Renames are worth the loud warning even when a plan is given: the plan shows them only as delete + create.
      if (plan) {
        warnings.push(...infrastructureWarnings(estimate).filter((w) => w.includes("renamed")));
        renamed.push(...estimate.resources.filter((r) => r.previousAddress).map((r) => r.address));
      }
      warnings.push(...infrastructureWarnings(infra));
      if (infra.resources.length > 0) infrastructure.push(infra);
    }
  }

  for (const gateway of [...new Set([...gatewaysA.keys(), ...gatewaysB.keys()])].sort()) {
    const a = gatewaysA.get(gateway);
    const b = gatewaysB.get(gateway);
    if (!a || !b) {
      changes.push({
        kind: "gateway",
        effect: b ? "widening" : "narrowing",
        gateway,
        change: b ? "added" : "removed",
        summary: `gateway ${gateway} ${b ? "added" : "removed"}`,
      });
    }
    const stack = (b ?? a)!.metadata.stack;
    // An agent's own app is reported as the agent (below), not again as a client.
    const agentApps = new Set([
      ...agentAppLabels(stacksA.get(stack)?.terraform),
      ...agentAppLabels(stacksB.get(stack)?.terraform),
    ]);
    const clients = (clientsByStack.get(stack)?.clients ?? []).filter((c) => !agentApps.has(c.client));
    const privileged = {
      base: privilegedScopesOf(stacksA.get(stack)?.terraform),
      head: privilegedScopesOf(stacksB.get(stack)?.terraform),
    };
    changes.push(...diffAgents(gateway, a, b));
    const diff = diffAuthority(gateway, a, b, tools, clients, agentScopes(a, b, privileged));
    changes.push(...diff.changes);
    authority.push(...diff.edges);
    changes.push(...diffConfig(gateway, a, b));
    changes.push(...diffSpend(gateway, a, b));
  }

  const count = (effect: Change["effect"]) => changes.filter((c) => c.effect === effect).length;
  return {
    summary: {
      widening: count("widening"),
      narrowing: count("narrowing"),
      neutral: count("neutral"),
      resourceChanges: infrastructure.reduce((n, i) => n + i.resources.length, 0),
      warnings,
      replaced: [
        ...new Set([
          ...infrastructure.flatMap((i) => i.resources.filter((r) => r.action === "replace").map((r) => r.address)),
          ...renamed,
        ]),
      ].sort(),
      tampered: tamper.length,
    },
    tamper,
    changes,
    authority,
    infrastructure,
    toolNames: { source: options.catalog ? "bundle+catalog" : "bundle", byUpstream: Object.fromEntries(tools) },
  };
}
