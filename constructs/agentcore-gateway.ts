import { Construct } from "constructs";
import { BedrockagentcoreGateway } from "@cdktf/provider-aws/lib/bedrockagentcore-gateway/index.js";
import { BedrockagentcoreGatewayTarget } from "@cdktf/provider-aws/lib/bedrockagentcore-gateway-target/index.js";
import { BedrockagentcoreOauth2CredentialProvider } from "@cdktf/provider-aws/lib/bedrockagentcore-oauth2-credential-provider/index.js";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity/index.js";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition/index.js";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region/index.js";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role/index.js";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy/index.js";
import { TerraformVariable } from "cdktf";
import type { IAuthorizationServer, IGatewayEndpoint, IOAuthClients } from "./refs.js";
import { agentCoreAssumeRolePolicy } from "./agentcore-trust.js";
import { agentClientAuthOf } from "./gateway-route.js";

export interface AgentCoreMcpGatewayProps {
  /** Gateway name: letters, digits and single hyphens. */
  readonly gatewayName: string;
  readonly authServer: IAuthorizationServer;
  readonly clients: IOAuthClients;
  /** The Tollgate gateway: the AgentCore Gateway's only target is its MCP endpoint. */
  readonly gateway: IGatewayEndpoint;
  /** Scopes requested for the Tollgate MCP endpoint. @default ["mcp:read"] */
  readonly scopes?: readonly string[];
  /** Bump to rotate the client secret (write-only attribute version). @default 1 */
  readonly secretVersion?: number;
}

/**
 * An AgentCore Gateway (MCP, custom JWT from Okta) whose single target is the Tollgate gateway's MCP
 * endpoint, authenticated with the agent app's client credentials through an OAuth2 credential
 * provider. The client secret enters through a write-only attribute from a sensitive variable, so it
 * is stored by AgentCore in Secrets Manager and never in Terraform state.
 *
 * AgentCore's OAuth2 credential provider (`CustomOauth2`) authenticates only with a client id and secret: it
 * cannot sign `private_key_jwt` assertions. So `clients` must be an agent app that opts into a client secret
 * (`OktaApps({ agentApp: { clientAuth: { method: "client_secret" } } })`, or `OktaApps.fromClientIds` with
 * `agentClientSecretEnv`), and its secret is copied from Okta into this construct's variable after the app exists.
 */
export class AgentCoreMcpGateway extends Construct {
  public readonly gateway: BedrockagentcoreGateway;
  public readonly target: BedrockagentcoreGatewayTarget;
  public readonly credentialProvider: BedrockagentcoreOauth2CredentialProvider;
  public readonly clientSecret: TerraformVariable;

  constructor(scope: Construct, id: string, props: AgentCoreMcpGatewayProps) {
    super(scope, id);
    const account = new DataAwsCallerIdentity(this, "Account").accountId;
    const region = new DataAwsRegion(this, "Region").region;
    const partition = new DataAwsPartition(this, "Partition").partition;
    const arn = (resource: string) => `arn:${partition}:bedrock-agentcore:${region}:${account}:${resource}`;
    this.clientSecret = new TerraformVariable(this, "ClientSecret", {
      type: "string",
      sensitive: true,
      nullable: false,
      description: `Client secret of the Okta agent app, for the AgentCore Gateway ${props.gatewayName} (write-only: never stored in state)`,
    });
    this.clientSecret.overrideLogicalId(`${props.gatewayName.replace(/-/g, "_")}_client_secret`);

    this.credentialProvider = new BedrockagentcoreOauth2CredentialProvider(this, "Credentials", {
      name: `${props.gatewayName}-tollgate`,
      credentialProviderVendor: "CustomOauth2",
      oauth2ProviderConfig: [
        {
          customOauth2ProviderConfig: [
            {
              clientId: props.clients.agentClientId,
              clientSecretWo: this.clientSecret.stringValue,
              clientCredentialsWoVersion: props.secretVersion ?? 1,
              oauthDiscovery: [{ discoveryUrl: props.authServer.discoveryUrl }],
            },
          ],
        },
      ],
    });

    const role = new IamRole(this, "Role", {
      name: `${props.gatewayName}-gateway`,
      description: `AgentCore Gateway ${props.gatewayName}: fetch its own OAuth token for the Tollgate gateway, nothing else`,
      assumeRolePolicy: agentCoreAssumeRolePolicy({ partition, region, account }),
    });
    new IamRolePolicy(this, "RolePolicy", {
      role: role.name,
      name: "least-privilege",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "OwnWorkloadToken",
            Effect: "Allow",
            Action: ["bedrock-agentcore:GetWorkloadAccessToken", "bedrock-agentcore:GetResourceOauth2Token"],
            Resource: [
              arn("workload-identity-directory/default"),
              arn(`workload-identity-directory/default/workload-identity/${props.gatewayName}-*`),
              arn("token-vault/default"),
              this.credentialProvider.credentialProviderArn,
            ],
          },
          {
            Sid: "OwnClientSecret",
            Effect: "Allow",
            Action: ["secretsmanager:GetSecretValue"],
            Resource: [this.credentialProvider.clientSecretArn.get(0).secretArn],
          },
        ],
      }),
    });

    this.gateway = new BedrockagentcoreGateway(this, "Gateway", {
      name: props.gatewayName,
      description: `MCP tools of the Tollgate gateway ${props.gateway.publicUrl}, for AgentCore agents`,
      protocolType: "MCP",
      authorizerType: "CUSTOM_JWT",
      authorizerConfiguration: [
        {
          customJwtAuthorizer: [
            {
              discoveryUrl: props.authServer.discoveryUrl,
              allowedAudience: [props.authServer.audience],
              allowedClients: [props.clients.userClientId, props.clients.agentClientId],
            },
          ],
        },
      ],
      roleArn: role.arn,
    });
    this.target = new BedrockagentcoreGatewayTarget(this, "TollgateTarget", {
      gatewayIdentifier: this.gateway.gatewayId,
      name: "tollgate",
      description: "The Tollgate gateway: scope-checked, guarded, audited MCP tools",
      targetConfiguration: [{ mcp: [{ mcpServer: [{ endpoint: props.gateway.mcpUrl ?? "" }] }] }],
      credentialProviderConfiguration: [
        {
          oauth: [
            { providerArn: this.credentialProvider.credentialProviderArn, scopes: [...(props.scopes ?? ["mcp:read"])] },
          ],
        },
      ],
    });

    this.node.addValidation({
      validate: () => [
        ...(props.gateway.mcpUrl
          ? []
          : ["AgentCoreMcpGateway.gateway: the Tollgate gateway has no MCP upstream, so there is nothing to target"]),
        ...(agentClientAuthOf(props.clients).method === "client_secret"
          ? []
          : [
              'AgentCoreMcpGateway.clients: AgentCore\'s credential provider can only send a client secret, and this agent app has none: use OktaApps({ agentApp: { clientAuth: { method: "client_secret" } } }) (or fromClientIds with agentClientSecretEnv)',
            ]),
        ...(/^([0-9a-zA-Z][-]?){1,100}$/.test(props.gatewayName)
          ? []
          : [
              `AgentCoreMcpGateway.gatewayName: letters, digits and single hyphens, got ${JSON.stringify(props.gatewayName)}`,
            ]),
      ],
    });
  }
}
