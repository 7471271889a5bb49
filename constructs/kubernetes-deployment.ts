import type { Construct } from "constructs";
import type { DeploymentConfig } from "@cdktf/provider-kubernetes/lib/deployment/index.js";
import { type TerraformMetaArguments, TerraformResource, Token } from "cdktf";

/** Config of `kubernetes_deployment`, exactly as the generated binding types it. */
export type KubernetesDeploymentConfig = Omit<DeploymentConfig, keyof TerraformMetaArguments>;

/** Objects whose keys are data (label names, resource names), not attribute names. */
const MAP_ATTRIBUTES = new Set(["labels", "annotations", "matchLabels", "limits", "requests", "nodeSelector", "data"]);

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** camelCase attribute names → Terraform's snake_case, leaving map keys and values untouched. */
function toTerraformAttributes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toTerraformAttributes);
  if (
    value === null ||
    typeof value !== "object" ||
    !Object.getPrototypeOf(value) ||
    Object.getPrototypeOf(value) !== Object.prototype
  )
    return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [snakeCase(k), MAP_ATTRIBUTES.has(k) ? v : toTerraformAttributes(v)]),
  );
}

/**
 * `kubernetes_deployment`, typed with the generated binding's config type but without loading that
 * binding at run time: its 4.7 MB of struct classes are the single largest cost of a synth (see
 * bench/synth.ts), and the gateway needs none of their runtime helpers.
 */
export class KubernetesDeployment extends TerraformResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: KubernetesDeploymentConfig,
  ) {
    super(scope, id, {
      terraformResourceType: "kubernetes_deployment",
      terraformGeneratorMetadata: {
        providerName: "kubernetes",
        providerVersion: "2.38.0",
        providerVersionConstraint: "~> 2.0",
      },
    });
  }

  /** Terraform reference to the deployment's name (makes dependents wait for it). */
  public get deploymentName(): string {
    return Token.asString(this.interpolationForAttribute("metadata[0].name"));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return toTerraformAttributes(this.config) as Record<string, unknown>;
  }
}
