import { Construct } from "constructs";
import { DataAwsEcrRepository } from "@cdktf/provider-aws/lib/data-aws-ecr-repository/index.js";
import { Fn, Token } from "cdktf";
import type { IContainerRepository } from "./refs.js";

const ARN = /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:(\d{12}):repository\/(.+)$/;
const NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/**
 * An ECR repository that already exists, for `AgentCoreRuntime({ repository })`: nothing is created. An
 * `aws_ecr_repository` data source reads it at plan (the plan fails when it does not exist) and gives its
 * URL; the agent's execution role may pull images from this repository only.
 */
export class ImportedEcrRepository extends Construct implements IContainerRepository {
  /** The repository called `repositoryName` in the provider's account and region. */
  public static fromRepositoryName(scope: Construct, id: string, repositoryName: string): IContainerRepository {
    return new ImportedEcrRepository(scope, id, { repositoryName });
  }

  /** The repository with this ARN (`arn:aws:ecr:<region>:<account>:repository/<name>`), possibly another account's. */
  public static fromRepositoryArn(scope: Construct, id: string, repositoryArn: string): IContainerRepository {
    return new ImportedEcrRepository(scope, id, { repositoryArn });
  }

  public readonly repositoryName: string;
  public readonly repositoryArn: string;
  public readonly repositoryUrl: string;
  /** The data source that reads the repository at plan. */
  public readonly lookup: DataAwsEcrRepository;

  private constructor(
    scope: Construct,
    id: string,
    ref: { readonly repositoryName: string } | { readonly repositoryArn: string },
  ) {
    super(scope, id);
    const api = `ImportedEcrRepository.${"repositoryArn" in ref ? "fromRepositoryArn" : "fromRepositoryName"}`;
    const arn = "repositoryArn" in ref ? ref.repositoryArn : undefined;
    const parsed = arn === undefined ? undefined : parseArn(arn);
    if (arn !== undefined && parsed === undefined) {
      throw new Error(
        `${this.node.path}: ${api}: expected arn:aws:ecr:<region>:<account>:repository/<name>, got ${JSON.stringify(arn)}`,
      );
    }
    this.repositoryName = "repositoryName" in ref ? ref.repositoryName : (parsed?.name ?? "");
    if (!Token.isUnresolved(this.repositoryName) && !NAME.test(this.repositoryName)) {
      throw new Error(
        `${this.node.path}: ${api}: ${JSON.stringify(this.repositoryName)} is not an ECR repository name (lower-case letters, digits, . _ - and / between parts)`,
      );
    }
    this.lookup = new DataAwsEcrRepository(this, "Lookup", {
      name: this.repositoryName,
      ...(parsed ? { registryId: parsed.account } : {}),
    });
    this.repositoryArn = arn ?? this.lookup.arn;
    this.repositoryUrl = this.lookup.repositoryUrl;
  }
}

/** Account and name of an ECR repository ARN; a Terraform reference is taken apart by Terraform. */
function parseArn(arn: string): { account: string; name: string } | undefined {
  if (Token.isUnresolved(arn)) {
    return {
      account: Fn.element(Fn.split(":", arn), 4) as string,
      name: Fn.element(Fn.split("repository/", arn), 1) as string,
    };
  }
  const match = ARN.exec(arn);
  return match?.[1] && match[2] ? { account: match[1], name: match[2] } : undefined;
}
