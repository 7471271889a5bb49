import { Construct } from "constructs";
import { ConfigMap } from "@cdktf/provider-kubernetes/lib/config-map/index.js";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2/index.js";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1/index.js";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1/index.js";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1/index.js";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1/index.js";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1/index.js";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1/index.js";
import { Fn, Lazy, TerraformVariable } from "cdktf";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import { type ContainerImage, imageProblems, imageReference } from "./container-image.js";
import { isDevEnvironment } from "./environment.js";
import { type GatewayBundle, METRICS_PORT } from "./gateway-bundle.js";
import { type ExposureSource, type GatewayExposure, GatewayIngress, exposureSource } from "./gateway-ingress.js";
import { GatewayRedis } from "./gateway-redis.js";
import type { GatewayRoute } from "./gateway-route.js";
import { KubernetesDeployment } from "./kubernetes-deployment.js";
import type { IAgentGateway, IAgentIdentity, IGatewayEndpoint } from "./refs.js";
import { escapeTerraformTemplate } from "./terraform-text.js";

export { METRICS_PORT } from "./gateway-bundle.js";
/** Where the gateway container reads its configuration (the ConfigMap mount). */
export const BUNDLE_MOUNT_PATH = "/etc/tollgate";
/** Port of the gateway's traffic listener in the container. */
export const GATEWAY_PORT = 8080;
/** Where the gateway Secret's keys are mounted as files (re-read by the runtime when they change). */
export const SECRETS_MOUNT_PATH = "/var/run/tollgate/secrets";

/** How the provider keys and upstream secrets reach the gateway pods. */
export type GatewaySecrets =
  /**
   * One ephemeral, sensitive Terraform variable per secret (`<gateway>_<env name lower-cased>`), written into a
   * Kubernetes Secret through the write-only `data_wo`: the values are in neither the plan nor the state
   * (Terraform ≥ 1.11). Write-only values are sent only when `revision` changes: bump it to push new values.
   */
  | { readonly fromVariables: true; readonly revision?: number }
  /** A Secret you manage, with one key per environment variable name. */
  | { readonly existingSecretName: string };

export interface RedisDeployment {
  /** Redis image; outside dev pin it by digest (TG-IMG-001). */
  readonly image: ContainerImage;
  /**
   * Key of the gateway Secret holding the Redis password: with `secrets: { fromVariables: true }` the sensitive
   * variable `<gateway>_<key lower-cased>`, which must be at least 32 URL-safe characters (`A-Z a-z 0-9 _ -`:
   * it goes into the Redis URL as it is), e.g. `openssl rand -hex 32`.
   * @default "REDIS_PASSWORD"
   */
  readonly passwordSecretEnv?: string;
}

export interface GatewayDeploymentProps {
  /** The bundle to deploy: its environment, routes, secrets and rate-limit store decide the rest. */
  readonly bundle: GatewayBundle;
  /** The gateway image. Non-dev: pin by digest. */
  readonly image: ContainerImage;
  /** @default "tollgate" */
  readonly namespace?: string;
  /** Whether to create the namespace; `false` uses an existing one. @default true */
  readonly createNamespace?: boolean;
  /** @default 2 */
  readonly replicas?: number;
  /** @default max(3, 3 × replicas) */
  readonly maxReplicas?: number;
  /** @default { fromVariables: true } */
  readonly secrets?: GatewaySecrets;
  /**
   * Deploy a Redis next to the gateway for the bundle's `rateLimitStore: { type: "redis" }`: reachable only
   * from its pods (NetworkPolicy) and protected by a password from the gateway Secret. The gateway's Redis
   * URL is then built in the pod from that password; it is no secret of its own.
   * @default an existing Redis, whose URL comes from the gateway Secret
   */
  readonly redis?: RedisDeployment;
  /** @default { cpu: "250m", memory: "256Mi" } requests, memory limit 512Mi */
  readonly resources?: { readonly cpu?: string; readonly memory?: string; readonly memoryLimit?: string };
  /** Namespaces allowed to reach the gateway (NetworkPolicy). @default every namespace in the cluster */
  readonly allowedClientNamespaces?: readonly string[];
  /**
   * How the gateway is reached from outside the cluster: an Ingress with TLS on the host of the public URL
   * (an ALB with an ACM certificate, or an ingress controller with a cert-manager certificate), and optionally
   * its Route 53 record.
   * @default reachable only inside the cluster (a ClusterIP Service)
   */
  readonly exposure?: GatewayExposure;
}

/**
 * A gateway bundle deployed on Kubernetes: Namespace, ServiceAccount, ConfigMap (bundle.json + the
 * Terraform-rendered values.json), Secret, Deployment, Service, PodDisruptionBudget,
 * HorizontalPodAutoscaler and NetworkPolicy.
 */
export class GatewayDeployment extends Construct implements IGatewayEndpoint, IAgentGateway {
  public readonly bundle: GatewayBundle;
  public readonly environment: string;
  public readonly publicUrl: string;
  public readonly mcpUrl: string | undefined;
  public readonly llmUrls: Readonly<Record<string, string>>;
  public readonly image: ContainerImage;
  public readonly namespace: string;
  /** Minimum (and initial) replica count. */
  public readonly replicas: number;
  /** Whether rate-limit budgets are shared across replicas (Redis). */
  public readonly sharedLimits: boolean;
  /** Environment variable names the pods receive from the Secret. */
  public readonly secretEnvNames: readonly string[];
  /** Sensitive variables created for the secrets (fromVariables), by environment variable name. */
  public readonly secretVariables: Readonly<Record<string, TerraformVariable>>;
  public readonly configMap: ConfigMap;
  public readonly deployment: KubernetesDeployment;
  /** The in-cluster Redis, when `redis` is set. */
  public readonly redis: GatewayRedis | undefined;
  /** The in-cluster Redis image (for the checks). */
  public readonly redisImage: ContainerImage | undefined;
  /** The Ingress that exposes the gateway, when `exposure` is set. */
  public readonly exposure: GatewayIngress | undefined;

  /** The bundle's agents (`GatewayBundle.agents`). */
  public get agents(): readonly IAgentIdentity[] {
    return this.bundle.agents;
  }

  /** Lists `agent` in the deployed bundle (`GatewayBundle.addAgent`). */
  public addAgent(agent: IAgentIdentity): void {
    this.bundle.addAgent(agent);
  }

  constructor(scope: Construct, id: string, props: GatewayDeploymentProps) {
    super(scope, id);
    const bundle = props.bundle;
    this.bundle = bundle;
    this.environment = bundle.environment;
    this.publicUrl = bundle.publicUrl;
    this.mcpUrl = bundle.mcpUrl;
    this.llmUrls = bundle.llmUrls;
    this.image = props.image;
    this.namespace = props.namespace ?? "tollgate";
    this.replicas = props.replicas ?? 2;
    this.sharedLimits = bundle.sharedLimits;
    this.redisImage = props.redis?.image;
    checkProps(this, props);

    const redisEnv = bundle.redisUrlEnv;
    const deployRedis = props.redis;
    // An in-cluster Redis: its password is the secret, the URL is built from it in the pod. Else the URL is the secret.
    const redisPasswordEnv = deployRedis ? (deployRedis.passwordSecretEnv ?? "REDIS_PASSWORD") : undefined;
    this.secretEnvNames = [
      ...new Set([
        ...bundle.secretEnvNames.filter((env) => !(redisPasswordEnv && env === redisEnv)),
        ...(redisPasswordEnv ? [redisPasswordEnv] : []),
      ]),
    ].sort();

    const replicas = this.replicas;
    const maxReplicas = props.maxReplicas ?? Math.max(3, 3 * replicas);
    const labels = { "app.kubernetes.io/name": "tollgate-gateway", "app.kubernetes.io/instance": bundle.gatewayName };
    const name = bundle.gatewayName;

    const namespace =
      props.createNamespace === false
        ? undefined
        : new NamespaceV1(this, "Namespace", { metadata: { name: this.namespace } });
    const nsName = namespace ? namespace.metadata.name : this.namespace;
    const serviceAccount = new ServiceAccountV1(this, "ServiceAccount", {
      metadata: { name, namespace: nsName, labels },
      automountServiceAccountToken: false,
    });

    // Secrets: never a literal, only sensitive variables or an existing Secret.
    const secretVariables: Record<string, TerraformVariable> = {};
    let secretName: string | undefined;
    const secrets = props.secrets ?? { fromVariables: true };
    if (this.secretEnvNames.length > 0) {
      if ("existingSecretName" in secrets) secretName = secrets.existingSecretName;
      else {
        for (const envName of this.secretEnvNames) {
          const variable = new TerraformVariable(this, `Secret_${envName}`, {
            type: "string",
            sensitive: true,
            nullable: false,
            description: `${envName} for the Tollgate gateway "${name}" (written to a Kubernetes Secret, never to the bundle or the Terraform state)`,
          });
          // Ephemeral: the value may reach only write-only arguments, so Terraform keeps it out of plan and state.
          variable.addOverride("ephemeral", true);
          const logicalId = `${name}_${envName.toLowerCase()}`.replace(/[^a-zA-Z0-9_]/g, "_");
          variable.overrideLogicalId(logicalId);
          if (envName === redisPasswordEnv) {
            variable.addValidation({
              condition: `\${can(regex("^[A-Za-z0-9_-]{32,}$", var.${logicalId}))}`,
              errorMessage: `${logicalId}: the in-cluster Redis password must be at least 32 URL-safe characters (A-Z a-z 0-9 _ -), e.g. from \`openssl rand -hex 32\`.`,
            });
          }
          secretVariables[envName] = variable;
        }
        const secret = new SecretV1(this, "Secret", {
          metadata: { name: `${name}-secrets`, namespace: nsName, labels },
          dataWo: Object.fromEntries(Object.entries(secretVariables).map(([envName, v]) => [envName, v.stringValue])),
          dataWoRevision: secrets.revision ?? 1,
          type: "Opaque",
        });
        secretName = secret.metadata.name;
      }
    }
    this.secretVariables = secretVariables;
    this.redis =
      deployRedis && redisPasswordEnv && secretName
        ? new GatewayRedis(this, "Redis", {
            name: `${name}-redis`,
            namespace: nsName,
            image: deployRedis.image,
            clientLabels: labels,
            password: { secretName, key: redisPasswordEnv },
          })
        : undefined;

    const bundleText = Lazy.stringValue({ produce: () => escapeTerraformTemplate(bundle.bundleText()) });
    const valuesJson = Lazy.stringValue({ produce: () => bundle.valuesJson() });
    this.configMap = new ConfigMap(this, "Bundle", {
      metadata: { name: `${name}-bundle`, namespace: nsName, labels },
      data: { "bundle.json": bundleText, "values.json": valuesJson },
    });

    const resources = props.resources ?? {};
    this.deployment = new KubernetesDeployment(this, "Deployment", {
      metadata: { name, namespace: nsName, labels },
      waitForRollout: false,
      spec: {
        replicas: String(replicas),
        selector: { matchLabels: labels },
        template: {
          metadata: {
            labels,
            annotations: {
              "tollgate.dev/bundle-digest": Lazy.stringValue({ produce: () => bundle.bundle().metadata.digest ?? "" }),
              "tollgate.dev/values-sha256": Fn.sha256(valuesJson),
            },
          },
          spec: {
            serviceAccountName: serviceAccount.metadata.name,
            automountServiceAccountToken: false,
            // 65532: the distroless `nonroot` user of runtime/Dockerfile.
            securityContext: {
              runAsNonRoot: true,
              runAsUser: "65532",
              runAsGroup: "65532",
              fsGroup: "65532",
              seccompProfile: { type: "RuntimeDefault" },
            },
            container: [
              {
                name: "gateway",
                image: imageReference(props.image),
                imagePullPolicy: "IfNotPresent",
                args: [
                  "serve",
                  "--bundle",
                  `${BUNDLE_MOUNT_PATH}/bundle.json`,
                  "--values",
                  `${BUNDLE_MOUNT_PATH}/values.json`,
                  "--host",
                  "0.0.0.0",
                  "--port",
                  String(GATEWAY_PORT),
                ],
                port: [
                  { name: "http", containerPort: GATEWAY_PORT },
                  { name: "metrics", containerPort: METRICS_PORT },
                ],
                env: [
                  ...(secretName ? [{ name: "TOLLGATE_SECRETS_DIR", value: SECRETS_MOUNT_PATH }] : []),
                  ...this.secretEnvNames.map((envName) => ({
                    name: envName,
                    valueFrom: { secretKeyRef: { name: secretName, key: envName } },
                  })),
                  // After the password's variable: Kubernetes expands `$(NAME)` of variables defined earlier in the list.
                  ...(this.redis && redisEnv && redisPasswordEnv
                    ? [{ name: redisEnv, value: this.redis.urlWithPasswordFrom(redisPasswordEnv) }]
                    : []),
                ],
                securityContext: {
                  runAsNonRoot: true,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  privileged: false,
                  capabilities: { drop: ["ALL"] },
                },
                livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
                readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5, failureThreshold: 2 },
                startupProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2, failureThreshold: 30 },
                resources: {
                  requests: { cpu: resources.cpu ?? "250m", memory: resources.memory ?? "256Mi" },
                  limits: { memory: resources.memoryLimit ?? "512Mi" },
                },
                volumeMount: [
                  { name: "bundle", mountPath: BUNDLE_MOUNT_PATH, readOnly: true },
                  ...(secretName ? [{ name: "secrets", mountPath: SECRETS_MOUNT_PATH, readOnly: true }] : []),
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volume: [
              { name: "bundle", configMap: { name: this.configMap.metadata.name } },
              ...(secretName ? [{ name: "secrets", secret: { secretName, defaultMode: "0400" } }] : []),
              { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            ],
          },
        },
      },
    });

    const service = new ServiceV1(this, "Service", {
      metadata: { name, namespace: nsName, labels },
      spec: {
        selector: labels,
        type: "ClusterIP",
        port: [
          { name: "http", port: 80, targetPort: "http" },
          { name: "metrics", port: METRICS_PORT, targetPort: "metrics" },
        ],
      },
    });
    this.exposure = props.exposure
      ? new GatewayIngress(this, "Exposure", {
          exposure: props.exposure,
          publicUrl: bundle.publicUrl,
          name,
          namespace: nsName,
          labels,
          serviceName: service.metadata.name,
        })
      : undefined;
    new PodDisruptionBudgetV1(this, "Disruption", {
      metadata: { name, namespace: nsName, labels },
      spec: { maxUnavailable: "1", selector: { matchLabels: labels } },
    });
    new HorizontalPodAutoscalerV2(this, "Autoscaler", {
      metadata: { name, namespace: nsName, labels },
      spec: {
        minReplicas: replicas,
        maxReplicas,
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.deployment.deploymentName },
        metric: [
          { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
        ],
      },
    });
    new NetworkPolicyV1(this, "NetworkPolicy", {
      metadata: { name, namespace: nsName, labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          {
            from: props.allowedClientNamespaces
              ? props.allowedClientNamespaces.map((ns) => ({
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
                }))
              : [{ namespaceSelector: {} }],
            ports: [
              { port: String(GATEWAY_PORT), protocol: "TCP" },
              { port: String(METRICS_PORT), protocol: "TCP" },
            ],
          },
          ...(props.exposure ? [exposureRule(exposureSource(props.exposure))] : []),
        ],
        egress: [
          {
            ports: [
              { port: "53", protocol: "UDP" },
              { port: "53", protocol: "TCP" },
            ],
          },
          {
            ports: egressPorts(bundle.routes, Boolean(redisEnv)).map((port) => ({
              port: String(port),
              protocol: "TCP",
            })),
          },
        ],
      },
    });

    markKind(this, "GatewayDeployment");
    TollgateChecks.ensureOn(this);
  }
}

/** Refuses impossible props at once, so the error points at the caller's line and construct path. */
function checkProps(gateway: GatewayDeployment, props: GatewayDeploymentProps): void {
  const errors = imageProblems(props.image, "GatewayDeployment.image");
  const replicas = gateway.replicas;
  if (!Number.isInteger(replicas) || replicas < 1)
    errors.push(`GatewayDeployment.replicas: expected a positive integer, got ${replicas}`);
  if (!isDevEnvironment(gateway.environment) && replicas < 2) {
    errors.push(
      `GatewayDeployment.replicas: at least 2 outside dev ("${gateway.environment}" has ${replicas}): one replica is a single point of failure for every agent`,
    );
  }
  if (props.redis && !gateway.bundle.sharedLimits) {
    errors.push(
      `GatewayDeployment.redis: the bundle keeps rate limits in memory: set GatewayBundle({ rateLimitStore: { type: "redis" } }) or drop redis`,
    );
  }
  if (props.redis) errors.push(...imageProblems(props.redis.image, "GatewayDeployment.redis.image"));
  for (const route of gateway.bundle.routes) {
    for (const { variable, path } of route.secretFiles) {
      const envName = variable
        .toUpperCase()
        .replace(/[^A-Z0-9_]/g, "_")
        .replace(/^(?=[0-9])/, "_");
      errors.push(
        `${route.node.path}: GatewayRoute.mcp env.${variable}: { file: "${path}" } would not exist in the gateway's pods (GatewayDeployment mounts no secret files): use { env: "${envName}" }, which GatewayDeployment provides from the gateway's Secret`,
      );
    }
  }
  if (errors.length > 0) throw new Error(`${gateway.node.path}:\n  ${errors.join("\n  ")}`);
}

/** The traffic port only, from where the exposure's load balancer or controller sends. */
function exposureRule(source: ExposureSource) {
  return {
    from:
      "cidrs" in source
        ? source.cidrs.map((cidr) => ({ ipBlock: { cidr } }))
        : [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": source.namespace } } }],
    ports: [{ port: String(GATEWAY_PORT), protocol: "TCP" }],
  };
}

/** TCP ports the gateway must reach: 443 for https upstreams, plus explicit ports of others. */
function egressPorts(routes: readonly GatewayRoute[], redis: boolean): number[] {
  const ports = new Set<number>([443]);
  for (const url of routes.flatMap((r) => r.upstreamUrls)) {
    try {
      const parsed = new URL(url);
      ports.add(parsed.port ? Number(parsed.port) : parsed.protocol === "http:" ? 80 : 443);
    } catch {
      // invalid URLs are reported by bundle validation
    }
  }
  if (redis) ports.add(6379);
  return [...ports].sort((a, b) => a - b);
}
