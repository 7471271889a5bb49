/**
 * Infrastructure changes of one stack, either estimated from the two synthesized `cdk.tf.json` or, with a
 * plan, the real actions Terraform will take. Construct IDs are Terraform addresses: a renamed construct
 * is a destroy-and-recreate (an Okta app gets a new client id, an IAM role a new ARN), which the synthesized
 * estimate detects as a removed and an added resource of the same type with the same attributes.
 */
import { canonicalJson } from "../bundle/index.js";
import type {
  InfrastructureDiff,
  ProviderTally,
  ResourceAction,
  ResourceChange,
  TerraformJson,
  TerraformPlanJson,
} from "./types.js";

type Attributes = Readonly<Record<string, unknown>>;

/** `aws_iam_role` → `aws`. */
export function providerOf(type: string): string {
  return type.split("_")[0] ?? type;
}

/**
 * What Terraform acts on: not cdktf's `//` metadata (construct path, which changes on every rename), nor
 * the meta-arguments that only order or guard operations (`depends_on`, `lifecycle`): a change to those
 * alone is no update of the resource.
 */
const NOT_ACTED_ON = new Set(["//", "depends_on", "lifecycle"]);

function attributes(resource: Attributes): Attributes {
  return Object.fromEntries(Object.entries(resource).filter(([k]) => !NOT_ACTED_ON.has(k)));
}

/** Every resource of a synthesized stack by address (`type.name`). */
export function resourcesOf(tf: TerraformJson | undefined): Map<string, { type: string; attrs: Attributes }> {
  const out = new Map<string, { type: string; attrs: Attributes }>();
  for (const [type, byName] of Object.entries(tf?.resource ?? {})) {
    for (const [name, resource] of Object.entries(byName))
      out.set(`${type}.${name}`, { type, attrs: attributes(resource) });
  }
  return out;
}

function tally(resources: readonly ResourceChange[]): ProviderTally[] {
  const byProvider = new Map<string, ProviderTally>();
  for (const r of resources) {
    const t = byProvider.get(r.provider) ?? {
      provider: r.provider,
      create: 0,
      update: 0,
      replace: 0,
      delete: 0,
      move: 0,
    };
    byProvider.set(r.provider, { ...t, [r.action]: t[r.action] + 1 });
  }
  return [...byProvider.values()].sort((a, b) => a.provider.localeCompare(b.provider));
}

const byAddress = (a: ResourceChange, b: ResourceChange) => a.address.localeCompare(b.address);

/** The estimate from two syntheses; renames appear as `replace` with `previousAddress`. */
export function diffSynthesizedResources(
  stack: string,
  base: TerraformJson | undefined,
  head: TerraformJson | undefined,
): InfrastructureDiff {
  const before = resourcesOf(base);
  const after = resourcesOf(head);
  const removed = [...before.keys()].filter((a) => !after.has(a)).sort();
  const added = [...after.keys()].filter((a) => !before.has(a)).sort();
  const resources: ResourceChange[] = [];

  const renamedFrom = new Map<string, string>();
  const claimed = new Set<string>();
  for (const address of added) {
    const { type, attrs } = after.get(address)!;
    const body = canonicalJson(attrs);
    const old = removed.find(
      (r) => !claimed.has(r) && before.get(r)!.type === type && canonicalJson(before.get(r)!.attrs) === body,
    );
    if (old) {
      claimed.add(old);
      renamedFrom.set(address, old);
    }
  }
  for (const address of added) {
    const type = after.get(address)!.type;
    const previousAddress = renamedFrom.get(address);
    resources.push({
      address,
      type,
      provider: providerOf(type),
      action: previousAddress ? "replace" : "create",
      ...(previousAddress ? { previousAddress } : {}),
    });
  }
  for (const address of removed.filter((r) => !claimed.has(r))) {
    const type = before.get(address)!.type;
    resources.push({ address, type, provider: providerOf(type), action: "delete" });
  }
  for (const [address, { type, attrs }] of after) {
    const old = before.get(address);
    if (!old) continue;
    const keys = [...new Set([...Object.keys(old.attrs), ...Object.keys(attrs)])].sort();
    const changedAttributes = keys.filter(
      (k) => canonicalJson(old.attrs[k] ?? null) !== canonicalJson(attrs[k] ?? null),
    );
    if (changedAttributes.length > 0)
      resources.push({ address, type, provider: providerOf(type), action: "update", changedAttributes });
  }
  resources.sort(byAddress);
  return { stack, source: "synth", providers: tally(resources), resources };
}

function planAction(actions: readonly string[], moved: boolean): ResourceAction | undefined {
  const has = (a: string) => actions.includes(a);
  if (has("delete") && has("create")) return "replace";
  if (has("create")) return "create";
  if (has("delete")) return "delete";
  if (has("update")) return "update";
  return moved ? "move" : undefined;
}

/** The real actions of a `terraform show -json` plan; no-ops and reads are left out. */
export function planResources(stack: string, plan: TerraformPlanJson): InfrastructureDiff {
  const resources: ResourceChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    const moved = rc.previous_address !== undefined && rc.previous_address !== rc.address;
    const action = planAction(rc.change.actions, moved);
    if (!action) continue;
    const replacePaths = (rc.change.replace_paths ?? []).map((p) => (Array.isArray(p) ? p.join(".") : String(p)));
    const reason = [rc.action_reason, replacePaths.length > 0 ? `forced by ${replacePaths.join(", ")}` : undefined]
      .filter(Boolean)
      .join("; ");
    resources.push({
      address: rc.address,
      type: rc.type,
      provider: providerOf(rc.type),
      action,
      ...(moved ? { previousAddress: rc.previous_address } : {}),
      ...(reason ? { reason } : {}),
    });
  }
  resources.sort(byAddress);
  return { stack, source: "plan", providers: tally(resources), resources };
}

/** Loud warnings for destructive changes: renames that recreate, planned replaces and deletes. */
export function infrastructureWarnings(diff: InfrastructureDiff): string[] {
  const warnings: string[] = [];
  for (const r of diff.resources) {
    if (r.action === "replace" && diff.source === "synth" && r.previousAddress) {
      warnings.push(
        `${diff.stack}: ${r.previousAddress} was renamed to ${r.address} (same type, same attributes, new construct ID): Terraform will DESTROY and recreate it. Keep the old construct ID, or move the state (moveTo/moveFromId) instead.`,
      );
    } else if (r.action === "replace") {
      warnings.push(`${diff.stack}: ${r.address} will be DESTROYED and recreated${r.reason ? ` (${r.reason})` : ""}.`);
    } else if (r.action === "delete" && diff.source === "plan") {
      warnings.push(`${diff.stack}: ${r.address} will be DESTROYED.`);
    }
  }
  return warnings;
}
