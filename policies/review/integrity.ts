/**
 * Is the bundle under review the bundle that will run? Three ways it may not be: its digest does not match
 * its content (edited after synth), the ConfigMap that Terraform will deploy carries a different bundle
 * than the reviewed file, or the ConfigMap's values.json does not fill exactly the bundle's placeholders. The digest rule is the bundle loader's own (`validateRuntimeBundle` with
 * `requireDigest`), so review and load cannot disagree on what a good digest is.
 */
import { type BundleIssue, formatIssue, listPlaceholders, parseJson, validateRuntimeBundle } from "../bundle/index.js";
import type { StackSynthesis, TamperFinding, TerraformJson } from "./types.js";

/** The digest issue of a bundle read from a file (missing, malformed or not matching), if any. */
export function digestIssue(input: unknown): BundleIssue | undefined {
  const result = validateRuntimeBundle(input, { requireDigest: true });
  return result.ok ? undefined : result.issues.find((i) => i.path === "metadata.digest");
}

/** Bundles carried by the stack's ConfigMaps (`data["bundle.json"]`, and `values.json` beside it), by address. */
function configMapBundles(tf: TerraformJson | undefined): { address: string; text: string; values?: string }[] {
  const out: { address: string; text: string; values?: string }[] = [];
  for (const [type, byName] of Object.entries(tf?.resource ?? {})) {
    if (!type.startsWith("kubernetes_config_map")) continue;
    for (const [name, resource] of Object.entries(byName)) {
      const data = resource["data"] as Record<string, unknown> | undefined;
      const values = data?.["values.json"];
      if (typeof data?.["bundle.json"] === "string")
        out.push({
          address: `${type}.${name}`,
          text: data["bundle.json"],
          ...(typeof values === "string" ? { values } : {}),
        });
    }
  }
  return out;
}

/**
 * Keys of the ConfigMap's `values.json`: plain JSON, or the `${jsonencode({"okta.issuer" = …, …})}` that
 * Terraform renders at apply.
 */
export function valueKeys(values: string): string[] {
  const parsed = parseJson(values);
  if (parsed.ok && parsed.bundle !== null && typeof parsed.bundle === "object" && !Array.isArray(parsed.bundle))
    return Object.keys(parsed.bundle).sort();
  return [...values.matchAll(/"([a-z][a-zA-Z0-9_-]*(?:\.[a-zA-Z0-9_-]+)*)"\s*=/g)].map((m) => m[1]!).sort();
}

/**
 * Each ConfigMap's bundle must be intact and be one of the stack's reviewed bundles (same gateway, same
 * digest). Findings for the bundle files themselves come from the reader ({@link digestIssue}).
 */
export function configMapFindings(stack: StackSynthesis, side: "base" | "head"): TamperFinding[] {
  const findings: TamperFinding[] = [];
  for (const { address, text, values } of configMapBundles(stack.terraform)) {
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
    // The values Terraform renders must fill exactly the bundle's placeholders: one left out and the
    // gateway refuses to start; one that names nothing was put there by hand.
    if (values !== undefined) {
      const needed = listPlaceholders(deployed);
      const given = valueKeys(values);
      const missing = needed.filter((n) => !given.includes(n));
      const extra = given.filter((n) => !needed.includes(n));
      if (missing.length > 0 || extra.length > 0)
        findings.push({
          side,
          where,
          message: `its values.json ${[
            missing.length > 0 ? `does not fill ${missing.join(", ")}` : "",
            extra.length > 0 ? `sets ${extra.join(", ")}, which the bundle does not use` : "",
          ]
            .filter(Boolean)
            .join(" and ")}: re-run cdktf synth instead of editing cdk.tf.json`,
        });
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
