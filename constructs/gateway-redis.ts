import { Construct } from "constructs";
import { NetworkPolicyV1 } from "@cdktf/provider-kubernetes/lib/network-policy-v1/index.js";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1/index.js";
import { type ContainerImage, imageReference } from "./container-image.js";
import { KubernetesDeployment } from "./kubernetes-deployment.js";

export const REDIS_PORT = 6379;

export interface GatewayRedisProps {
  readonly name: string;
  readonly namespace: string;
  /** Redis image; outside dev pin it by digest (TG-IMG-001). */
  readonly image: ContainerImage;
  /** Labels of the gateway pods: the only clients the NetworkPolicy admits. */
  readonly clientLabels: Readonly<Record<string, string>>;
  /** The key of a Secret in the same namespace holding the password Redis requires (`requirepass`). */
  readonly password: { readonly secretName: string; readonly key: string };
}

/**
 * A single in-cluster Redis holding the gateway's shared rate-limit budgets: no persistence (budgets
 * are short-lived), non-root, read-only root filesystem, reachable only from the gateway pods, and only
 * with the password from the gateway Secret.
 */
export class GatewayRedis extends Construct {
  /** `<service>.<namespace>.svc.cluster.local:6379` */
  public readonly address: string;
  public readonly image: ContainerImage;

  constructor(scope: Construct, id: string, props: GatewayRedisProps) {
    super(scope, id);
    this.image = props.image;
    const labels = { "app.kubernetes.io/name": "tollgate-redis", "app.kubernetes.io/instance": props.name };
    new KubernetesDeployment(this, "Deployment", {
      metadata: { name: props.name, namespace: props.namespace, labels },
      waitForRollout: false,
      spec: {
        replicas: "1",
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: "999",
              runAsGroup: "999",
              fsGroup: "999",
              seccompProfile: { type: "RuntimeDefault" },
            },
            container: [
              {
                name: "redis",
                image: imageReference(props.image),
                // Kubernetes expands `$(REDIS_PASSWORD)` from the env below: the manifest holds only the reference.
                args: [
                  "--save",
                  "",
                  "--appendonly",
                  "no",
                  "--protected-mode",
                  "no",
                  "--requirepass",
                  "$(REDIS_PASSWORD)",
                ],
                // REDISCLI_AUTH: the password of the readiness probe's `redis-cli`.
                env: ["REDIS_PASSWORD", "REDISCLI_AUTH"].map((name) => ({
                  name,
                  valueFrom: { secretKeyRef: { name: props.password.secretName, key: props.password.key } },
                })),
                port: [{ name: "redis", containerPort: REDIS_PORT }],
                securityContext: {
                  runAsNonRoot: true,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ["ALL"] },
                },
                livenessProbe: { tcpSocket: [{ port: "redis" }], periodSeconds: 10 },
                // `redis-cli` exits 0 on an error reply too: ready means it got PONG.
                readinessProbe: { exec: { command: ["sh", "-c", "redis-cli ping | grep -q PONG"] }, periodSeconds: 5 },
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                volumeMount: [{ name: "data", mountPath: "/data" }],
              },
            ],
            volume: [{ name: "data", emptyDir: { sizeLimit: "256Mi" } }],
          },
        },
      },
    });
    const service = new ServiceV1(this, "Service", {
      metadata: { name: props.name, namespace: props.namespace, labels },
      spec: { selector: labels, type: "ClusterIP", port: [{ name: "redis", port: REDIS_PORT, targetPort: "redis" }] },
    });
    new NetworkPolicyV1(this, "NetworkPolicy", {
      metadata: { name: props.name, namespace: props.namespace, labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { ...props.clientLabels } } }],
            ports: [{ port: String(REDIS_PORT), protocol: "TCP" }],
          },
        ],
      },
    });
    this.address = `${service.metadata.name}.${props.namespace}.svc.cluster.local:${REDIS_PORT}`;
  }

  /**
   * The URL for a container that has the password in `passwordEnv`, defined earlier in its env list:
   * `redis://:$(<passwordEnv>)@<address>`, expanded by Kubernetes in the pod.
   */
  urlWithPasswordFrom(passwordEnv: string): string {
    return `redis://:$(${passwordEnv})@${this.address}`;
  }
}
