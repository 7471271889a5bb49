/**
 * Is the bundle under review the bundle that will run? Two ways it may not be: its digest does not match
 * its content (edited after synth), or the ConfigMap that Terraform will deploy carries a different bundle
 * than the reviewed file. The digest rule is the bundle loader's own (`validateRuntimeBundle` with
 * `requireDigest`), so review and load cannot disagree on what a good digest is.
 */
import { type BundleIssue, formatIssue, parseJson, validateRuntimeBundle } from "../bundle/index.js";
import type { StackSynthesis, TamperFinding, TerraformJson } from "./types.js";

/** The digest issue of a bundle read from a file (missing, malformed or not matching), if any. */
export function digestIssue(input: unknown): BundleIssue | undefined {
  const result = validateRuntimeBundle(input, { requireDigest: true });
  return result.ok ? undefined : result.issues.find((i) => i.path === "metadata.digest");
}

/** Bundles carried by the stack's ConfigMaps (`data["bundle.json"]`), by Terraform address. */
function configMapBundles(tf: TerraformJson | undefined): { address: string; text: string }[] {
  const out: { address: string; text: string }[] = [];
  for (const [type, byName] of Object.entries(tf?.resource ?? {})) {
    if (!type.startsWith("kubernetes_config_map")) continue;
    for (const [name, resource] of Object.entries(byName)) {
      const data = resource["data"] as Record<string, unknown> | undefined;
      if (typeof data?.["bundle.json"] === "string")
        out.push({ address: `${type}.${name}`, text: data["bundle.json"] });
    }
  }
  return out;
}

/**
 * Each ConfigMap's bundle must be intact and be one of the stack's reviewed bundles (same gateway, same
 * digest). Findings for the bundle files themselves come from the reader ({@link digestIssue}).
 */
export function configMapFindings(stack: StackSynthesis, side: "base" | "head"): TamperFinding[] {
  const findings: TamperFinding[] = [];
  for (const { address, text } of configMapBundles(stack.terraform)) {
    const parsed = parseJson(text);
    const deployed = parsed.ok ? (parsed.bundle as { metadata?: { gateway?: unknown; digest?: unknown } }) : undefined;
    const where = `${stack.name}: ${address}`;
    if (!deployed) {
      findings.push({ side, where, message: "its bundle.json is not valid JSON" });
      continue;
    }
    const issue = digestIssue(deployed);
    if (issue) {
      findings.push({ side, where, message: `the bundle it deploys: ${formatIssue(issue)}` });
      continue;
    }
    const gateway = deployed.metadata?.gateway;
    const reviewed = stack.bundles.find((b) => b.metadata.gateway === gateway);
    if (reviewed && reviewed.metadata.digest !== deployed.metadata?.digest)
      findings.push({
        side,
        where,
        message: `deploys a bundle (${String(deployed.metadata?.digest)}) that is not the reviewed ${String(gateway)}.bundle.json (${reviewed.metadata.digest}): re-run cdktf synth and commit both, unedited`,
      });
  }
  return findings;
}
