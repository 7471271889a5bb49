import { Construct } from "constructs";
import { ConfigMap } from "@cdktf/provider-kubernetes/lib/config-map/index.js";
import { HorizontalPodAutoscalerV2 } from "@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2/index.js";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1/index.js";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1/index.js";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1/index.js";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1/index.js";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1/index.js";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1/index.js";
import { Fn, Lazy, TerraformStack, TerraformVariable, Token } from "cdktf";
import {
  API_VERSION,
  type BundleInput,
  formatIssue,
  placeholder,
  validateSynthBundle,
  withDigest,
} from "../policies/bundle/index.js";
import { writeOnSynth } from "./bundle-output.js";
import { GatewayRedis } from "./gateway-redis.js";
import { KubernetesDeployment } from "./kubernetes-deployment.js";
import { TollgateChecks, isDevEnvironment } from "./checks.js";
import { type ContainerImage, imageProblems, imageReference } from "./container-image.js";
import type { BundleValue, GatewayRoute } from "./gateway-route.js";
import type { GuardPolicy } from "./guard-policy.js";
import type { McpScopes } from "./mcp-scopes.js";
import type { IAuthorizationServer, IGatewayEndpoint, IOAuthClients } from "./refs.js";

/** Where the gateway container reads its configuration (the ConfigMap mount). */
export const BUNDLE_MOUNT_PATH = "/etc/tollgate";
/** Port of the gateway's traffic listener in the container. */
export const GATEWAY_PORT = 8080;
/** Port of the admin listener (/metrics). */
export const METRICS_PORT = 9464;

export interface RedisRateLimitStore {
  readonly type: "redis";
  /** Environment variable holding the Redis URL. @default "REDIS_URL" */
  readonly urlSecretEnv?: string;
  /**
   * Deploy a Redis next to the gateway: reachable only from its pods (NetworkPolicy) and protected by a
   * password from the gateway Secret, under `passwordSecretEnv`. The gateway's URL is then built in the
   * pod from that password; it is no secret of its own.
   * @default use an existing Redis whose URL comes from the gateway Secret
   */
  readonly deploy?: RedisDeployment;
  /** When Redis is unreachable. @default "fail-closed" */
  readonly onUnavailable?: "fail-open" | "fail-closed";
}

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

export interface GatewayAuthSettings {
  /** @default ["RS256"] */
  readonly algorithms?: readonly (
    "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512" | "EdDSA"
  )[];
  /** Claims every token must carry besides iss, aud, exp. @default ["sub"] */
  readonly requiredClaims?: readonly string[];
  /** @default 30 */
  readonly clockSkewSeconds?: number;
  /** Refuse tokens older than this (by `iat`). @default no limit */
  readonly maxTokenAgeSeconds?: number;
}

/** How the provider keys and upstream secrets reach the gateway pods. */
export type GatewaySecrets =
  /** One sensitive Terraform variable per secret (`<gateway>_<env name lower-cased>`), stored in a Kubernetes Secret. */
  | { readonly fromVariables: true }
  /** A Secret you manage, with one key per environment variable name. */
  | { readonly existingSecretName: string };

export interface GatewayDeploymentProps {
  /** Environment name (`dev`, `prod`...): bundle provenance and the checks' strictness. */
  readonly environment: string;
  /** The gateway's canonical URI, e.g. `https://gateway.example.com`: token audience, protected resource. */
  readonly publicUrl: string;
  readonly authServer: IAuthorizationServer;
  /** When given, only these clients' tokens are accepted. @default any client of the authorization server */
  readonly clients?: IOAuthClients;
  /** LLM routes and MCP upstreams. */
  readonly routes: readonly GatewayRoute[];
  /** Scopes and their tool grants. @default no MCP tool visible to anyone */
  readonly scopes?: McpScopes;
  /** Policy for routes without one (and for MCP when no MCP route has one). */
  readonly defaultPolicy: GuardPolicy;
  /** The gateway image. Non-dev: pin by digest. */
  readonly image: ContainerImage;
  /** @default "tollgate" */
  readonly namespace?: string;
  /** @default true */
  readonly createNamespace?: boolean;
  /** @default 2 */
  readonly replicas?: number;
  /** @default max(3, 3 × replicas) */
  readonly maxReplicas?: number;
  /** @default { fromVariables: true } */
  readonly secrets?: GatewaySecrets;
  /**
   * Where per-user rate-limit budgets live. `redis` shares them across replicas; its URL (which may
   * hold a password) is read from `urlSecretEnv`, fed by the gateway Secret.
   * @default { type: "memory" } (per replica)
   */
  readonly rateLimitStore?: { readonly type: "memory" } | RedisRateLimitStore;
  /**
   * Token verification settings beyond issuer, audience and clients (which come from OktaApps).
   * @default RS256, claims ["sub"], 30 s clock skew
   */
  readonly auth?: GatewayAuthSettings;
  /** @default "/mcp" */
  readonly mcpPath?: string;
  /** @default { cpu: "250m", memory: "256Mi" } requests, memory limit 512Mi */
  readonly resources?: { readonly cpu?: string; readonly memory?: string; readonly memoryLimit?: string };
  /** Namespaces allowed to reach the gateway (NetworkPolicy). @default every namespace in the cluster */
  readonly allowedClientNamespaces?: readonly string[];
  /** @default tracing off (OTLP export is configured by OTEL_* variables), no prompt capture, metrics on */
  readonly telemetry?: { readonly tracing?: boolean; readonly capturePrompts?: boolean; readonly metrics?: boolean };
  /** Bundle and file name: `<name>.bundle.json`. @default the construct id, lower-cased */
  readonly name?: string;
}

/**
 * The gateway on Kubernetes. It gathers the routes, guard policies, scope grants and auth settings
 * into the gateway bundle, validates it at synth, writes it as `<name>.bundle.json` next to the
 * stack's cdk.tf.json, and deploys it: Namespace, ServiceAccount, ConfigMap (bundle.json +
 * Terraform-rendered values.json), Secret, Deployment, Service, PodDisruptionBudget,
 * HorizontalPodAutoscaler and NetworkPolicy.
 */
export class GatewayDeployment extends Construct implements IGatewayEndpoint {
  public readonly gatewayName: string;
  public readonly environment: string;
  public readonly publicUrl: string;
  public readonly mcpUrl: string | undefined;
  public readonly llmUrls: Readonly<Record<string, string>>;
  public readonly image: ContainerImage;
  public readonly routes: readonly GatewayRoute[];
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
  /** The in-cluster Redis, when `rateLimitStore.deploy` is set. */
  public readonly redis: GatewayRedis | undefined;
  private readonly props: GatewayDeploymentProps;

  constructor(scope: Construct, id: string, props: GatewayDeploymentProps) {
    super(scope, id);
    this.props = props;
    this.gatewayName = props.name ?? id.toLowerCase();
    this.environment = props.environment;
    this.publicUrl = props.publicUrl;
    this.image = props.image;
    this.routes = props.routes;
    this.namespace = props.namespace ?? "tollgate";
    const mcpPath = props.mcpPath ?? "/mcp";
    const hasMcp = props.routes.some((r) => r.kind === "mcp");
    this.mcpUrl = hasMcp ? underPublicUrl(props.publicUrl, mcpPath) : undefined;
    this.llmUrls = Object.fromEntries(
      props.routes.flatMap((r) =>
        r.kind === "llm" ? [[r.routeId, underPublicUrl(props.publicUrl, r.pathPrefix ?? "")]] : [],
      ),
    );

    const redisEnv =
      props.rateLimitStore?.type === "redis" ? (props.rateLimitStore.urlSecretEnv ?? "REDIS_URL") : undefined;
    const deployRedis = props.rateLimitStore?.type === "redis" ? props.rateLimitStore.deploy : undefined;
    // An in-cluster Redis: its password is the secret, the URL is built from it in the pod. Else the URL is the secret.
    const redisPasswordEnv = deployRedis ? (deployRedis.passwordSecretEnv ?? "REDIS_PASSWORD") : undefined;
    const secretRedisEnv = redisPasswordEnv ?? redisEnv;
    this.secretEnvNames = [
      ...new Set([...props.routes.flatMap((r) => r.secretEnvNames), ...(secretRedisEnv ? [secretRedisEnv] : [])]),
    ].sort();

    const replicas = props.replicas ?? 2;
    this.replicas = replicas;
    this.sharedLimits = redisEnv !== undefined;
    const maxReplicas = props.maxReplicas ?? Math.max(3, 3 * replicas);
    const labels = { "app.kubernetes.io/name": "tollgate-gateway", "app.kubernetes.io/instance": this.gatewayName };
    const name = `${this.gatewayName}`;

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
            description: `${envName} for the Tollgate gateway "${this.gatewayName}" (stored in a Kubernetes Secret, never in the bundle)`,
          });
          const logicalId = `${this.gatewayName}_${envName.toLowerCase()}`.replace(/[^a-zA-Z0-9_]/g, "_");
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
          data: Object.fromEntries(Object.entries(secretVariables).map(([envName, v]) => [envName, v.stringValue])),
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

    const bundleText = Lazy.stringValue({ produce: () => escapeTerraformTemplate(this.bundleText()) });
    const valuesJson = Lazy.stringValue({ produce: () => this.valuesJson() });
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
              "tollgate.dev/bundle-digest": Lazy.stringValue({ produce: () => this.bundle().metadata.digest ?? "" }),
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
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volume: [
              { name: "bundle", configMap: { name: this.configMap.metadata.name } },
              { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            ],
          },
        },
      },
    });

    new ServiceV1(this, "Service", {
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
        ],
        egress: [
          {
            ports: [
              { port: "53", protocol: "UDP" },
              { port: "53", protocol: "TCP" },
            ],
          },
          {
            ports: egressPorts(props.routes, Boolean(redisEnv)).map((port) => ({
              port: String(port),
              protocol: "TCP",
            })),
          },
        ],
      },
    });

    writeOnSynth(TerraformStack.of(this), {
      fileName: `${this.gatewayName}.bundle.json`,
      contents: () => this.bundleText(),
    });
    TollgateChecks.ensureOn(TerraformStack.of(this));
    this.node.addValidation({ validate: () => this.checkBundle() });
  }

  /** The bundle, with placeholders for apply-time values and its digest. Deterministic. */
  public bundle(): BundleInput & { metadata: { digest?: string } } {
    return this.build().bundle;
  }

  /** The exact text of `<name>.bundle.json` and of the ConfigMap's `bundle.json`. */
  public bundleText(): string {
    return `${JSON.stringify(this.bundle(), null, 2)}\n`;
  }

  /** Placeholder name → Terraform expression (the ConfigMap's values.json before rendering). */
  public applyTimeValues(): Readonly<Record<string, string>> {
    return this.build().values;
  }

  private valuesJson(): string {
    const values = this.applyTimeValues();
    return Object.keys(values).length === 0 ? "{}" : Fn.jsonencode(values);
  }

  private build(): { bundle: BundleInput & { metadata: { digest?: string } }; values: Record<string, string> } {
    const p = this.props;
    const values: Record<string, string> = {};
    const value: BundleValue = (name, raw) => {
      if (!Token.isUnresolved(raw)) return raw;
      values[name] = raw;
      return placeholder(name);
    };
    const stack = TerraformStack.of(this);
    const revision = process.env.TOLLGATE_SOURCE_REVISION || process.env.GITHUB_SHA || undefined;
    const policies = new Map<string, GuardPolicy>([[p.defaultPolicy.policyId, p.defaultPolicy]]);
    for (const route of p.routes) if (route.policy) policies.set(route.policy.policyId, route.policy);
    const publicUrl = value("gateway.publicUrl", p.publicUrl);
    const mcpPath = p.mcpPath ?? "/mcp";
    const issuer = value("okta.issuer", p.authServer.issuer);
    const mcpRoutes = p.routes.filter((r) => r.kind === "mcp");
    const mcpPolicy = mcpRoutes.find((r) => r.policy)?.policy ?? p.defaultPolicy;
    const upstreamIds = new Set(mcpRoutes.map((r) => r.upstreamId));
    const blocked = [...policies.values()].flatMap((policy) =>
      policy.alwaysBlocked.map((rule) => ({
        upstream: rule.upstream === undefined || rule.upstream === "*" ? "*" : rule.upstream.upstreamId,
        tools: [...rule.tools],
        reason: rule.reason,
      })),
    );
    const bundle: BundleInput = {
      apiVersion: API_VERSION,
      kind: "GatewayBundle",
      metadata: {
        environment: p.environment,
        stack: stack.node.id,
        gateway: this.gatewayName,
        ...(revision ? { sourceRevision: revision } : {}),
      },
      server: { publicUrl },
      auth: {
        issuer,
        discoveryUrl: value("okta.discoveryUrl", p.authServer.discoveryUrl),
        jwksUri: value("okta.jwksUri", p.authServer.jwksUri),
        audiences: [value("gateway.audience", p.authServer.audience)],
        ...(p.auth?.algorithms ? { algorithms: [...p.auth.algorithms] } : {}),
        ...(p.auth?.requiredClaims ? { requiredClaims: [...p.auth.requiredClaims] } : {}),
        ...(p.auth?.clockSkewSeconds !== undefined ? { clockSkewSeconds: p.auth.clockSkewSeconds } : {}),
        ...(p.auth?.maxTokenAgeSeconds !== undefined ? { maxTokenAgeSeconds: p.auth.maxTokenAgeSeconds } : {}),
        ...(p.clients
          ? {
              allowedClients: [
                value("okta.clients.user.id", p.clients.userClientId),
                value("okta.clients.agent.id", p.clients.agentClientId),
              ],
            }
          : {}),
      },
      protectedResource: {
        resource: value("gateway.mcpUrl", underPublicUrl(p.publicUrl, mcpPath)),
        authorizationServers: [issuer],
        scopesSupported: [...(p.scopes?.names ?? [])],
      },
      llm: { routes: p.routes.flatMap((r) => r.toLlmRoute((r.policy ?? p.defaultPolicy).policyId) ?? []) },
      ...(mcpRoutes.length > 0
        ? {
            mcp: {
              path: mcpPath,
              policy: mcpPolicy.policyId,
              upstreams: mcpRoutes.flatMap((r) => r.toMcpUpstream(value) ?? []),
              grants: (p.scopes?.grants ?? []).map((g) => ({
                scope: g.scope,
                upstream: g.upstream.upstreamId,
                tools: [...g.tools],
              })),
              deny: (p.scopes?.denies ?? []).map((d) => ({
                upstream: d.upstream === "*" ? "*" : d.upstream.upstreamId,
                tools: [...d.tools],
                reason: d.reason,
              })),
              alwaysBlocked: blocked.filter((b) => b.upstream === "*" || upstreamIds.has(b.upstream)),
            },
          }
        : {}),
      guardPolicies: [...policies.values()].map((policy) => policy.toBundle()),
      rateLimitStore:
        p.rateLimitStore?.type === "redis"
          ? {
              type: "redis",
              url: { env: p.rateLimitStore.urlSecretEnv ?? "REDIS_URL" },
              onUnavailable: p.rateLimitStore.onUnavailable ?? "fail-closed",
            }
          : { type: "memory" },
      telemetry: {
        audit: { capturePrompts: p.telemetry?.capturePrompts ?? false },
        metrics: { enabled: p.telemetry?.metrics ?? true, port: METRICS_PORT },
        tracing: { enabled: p.telemetry?.tracing ?? false, serviceName: `tollgate-${this.gatewayName}` },
      },
    };
    return { bundle: withDigest(bundle as BundleInput & { metadata: Record<string, unknown> }), values };
  }

  private checkBundle(): string[] {
    const errors = imageProblems(this.props.image, "GatewayDeployment.image");
    if (!Number.isInteger(this.replicas) || this.replicas < 1)
      errors.push(`GatewayDeployment.replicas: expected a positive integer, got ${this.replicas}`);
    if (!isDevEnvironment(this.environment) && this.replicas < 2) {
      errors.push(
        `GatewayDeployment.replicas: at least 2 outside dev ("${this.environment}" has ${this.replicas}): one replica is a single point of failure for every agent`,
      );
    }
    const mcpPolicies = new Set(this.routes.filter((r) => r.kind === "mcp" && r.policy).map((r) => r.policy?.policyId));
    if (mcpPolicies.size > 1)
      errors.push(
        `GatewayDeployment.routes: MCP upstreams share one guard policy, got ${[...mcpPolicies].join(", ")}: apply the same GuardPolicy to every MCP route`,
      );
    for (const route of this.routes) {
      for (const { variable, path } of route.secretFiles) {
        const envName = variable
          .toUpperCase()
          .replace(/[^A-Z0-9_]/g, "_")
          .replace(/^(?=[0-9])/, "_");
        errors.push(
          `GatewayRoute.mcp(${route.node.id}).env.${variable}: { file: "${path}" } would not exist in the gateway's pods (GatewayDeployment mounts no secret files): use { env: "${envName}" }, which GatewayDeployment provides from the gateway's Secret`,
        );
      }
    }
    const text = this.bundleText();
    if (Token.isUnresolved(text)) {
      errors.push(
        "GatewayDeployment: a Terraform reference reached the bundle outside an apply-time field (pass it through a placeholder)",
      );
    }
    const result = validateSynthBundle(this.bundle());
    if (!result.ok)
      for (const issue of result.issues)
        errors.push(`[TG-BUNDLE-001] gateway "${this.gatewayName}": ${formatIssue(issue)}`);
    return errors;
  }
}

/** `${publicUrl}${path}`; one Terraform expression when the URL is known only at apply (so values.json can carry it). */
function underPublicUrl(publicUrl: string, path: string): string {
  return Token.isUnresolved(publicUrl) ? Fn.join("", [publicUrl, path]) : `${publicUrl}${path}`;
}

/** Terraform would interpolate `${...}` and `%{...}` in the ConfigMap literal; escape them so it renders the text unchanged. */
function escapeTerraformTemplate(text: string): string {
  return text.replaceAll("${", "$${").replaceAll("%{", "%%{");
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
