import type { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider/index.js";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider/index.js";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { DevopsCopilotPlatform } from "./devops-copilot-platform.js";
import type { EnvironmentSettings } from "./environments.js";

/**
 * One whole environment: providers (credentials come from the deploying shell's environment, never
 * from code), the state backend, and the devops-copilot platform.
 */
export class EnvironmentStack extends TerraformStack {
  public readonly platform: DevopsCopilotPlatform;

  constructor(scope: Construct, settings: EnvironmentSettings) {
    super(scope, settings.stackName);
    new OktaProvider(this, "okta", { orgName: settings.okta.orgName, baseUrl: settings.okta.baseUrl });
    new AwsProvider(this, "aws", {
      region: settings.aws.region,
      defaultTags: [{ tags: { "tollgate:environment": settings.environment } }],
    });
    new KubernetesProvider(this, "kubernetes", {
      configPath: settings.kubernetes.configPath,
      configContext: settings.kubernetes.configContext,
    });
    if (settings.backend.kind === "s3") {
      const backend = new S3Backend(this, {
        bucket: settings.backend.bucket,
        key: settings.backend.key,
        region: settings.backend.region,
        encrypt: true,
      });
      // S3-native state locking (Terraform ≥ 1.10); cdktf 0.21 predates the typed option.
      backend.addOverride("use_lockfile", true);
    } else {
      new LocalBackend(this, { path: settings.backend.path });
    }
    this.platform = new DevopsCopilotPlatform(this, "Platform", settings);
  }
}
