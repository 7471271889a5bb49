/** Where an AgentCore role lives: the values every ARN of it needs (Terraform references). */
export interface AwsLocation {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/**
 * Trust policy for a role that Bedrock AgentCore assumes: only the AgentCore service, only on behalf of
 * this account's AgentCore resources (SourceAccount + SourceArn guard against the confused deputy).
 */
export function agentCoreAssumeRolePolicy({ partition, region, account }: AwsLocation): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "bedrock-agentcore.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: { "aws:SourceArn": `arn:${partition}:bedrock-agentcore:${region}:${account}:*` },
        },
      },
    ],
  });
}
