import { Construct } from "constructs";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record/index.js";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1/index.js";
import { Token } from "cdktf";

/** TLS at an AWS Application Load Balancer (AWS Load Balancer Controller), with an ACM certificate. */
export interface AlbExposure {
  readonly kind: "alb";
  /** ARN of the ACM certificate for the gateway's host name. */
  readonly certificateArn: string;
  /** @default "internet-facing" */
  readonly scheme?: "internet-facing" | "internal";
  /** Source ranges allowed to reach the gateway's pods (the ALB sends from its VPC addresses). @default ["0.0.0.0/0"] */
  readonly sourceCidrs?: readonly string[];
}

/** TLS at an in-cluster ingress controller (ingress-nginx by default), with a certificate from cert-manager. */
export interface CertManagerExposure {
  readonly kind: "cert-manager";
  /** The cert-manager ClusterIssuer that signs the certificate, e.g. `letsencrypt`. */
  readonly clusterIssuer: string;
  /** @default "nginx" */
  readonly ingressClassName?: string;
  /** Namespace of the ingress controller's pods, allowed through the gateway's NetworkPolicy. @default "ingress-nginx" */
  readonly controllerNamespace?: string;
}

/** How the gateway is reached from outside the cluster: always TLS, on the host of its public URL. */
export type GatewayExposure = (AlbExposure | CertManagerExposure) & {
  /**
   * A Route 53 record for the host, pointing at the load balancer once Kubernetes reports it.
   * @default no DNS record (manage it yourself)
   */
  readonly dns?: { readonly zoneId: string };
};

export interface GatewayIngressProps {
  readonly exposure: GatewayExposure;
  /** The gateway's public URL: its host is the Ingress host and the certificate's name. */
  readonly publicUrl: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Name of the gateway's Service (port `http`). */
  readonly serviceName: string;
}

/** Where the gateway's NetworkPolicy must admit traffic from, for the exposure in use. */
export type ExposureSource = { readonly cidrs: readonly string[] } | { readonly namespace: string };

/** The Ingress (and optional DNS record) that makes the gateway reachable at its public URL over TLS. */
export class GatewayIngress extends Construct {
  public readonly ingress: IngressV1;
  public readonly host: string;
  public readonly dnsRecord: Route53Record | undefined;

  constructor(scope: Construct, id: string, props: GatewayIngressProps) {
    super(scope, id);
    this.host = hostOf(this, props.publicUrl);
    const exposure = props.exposure;
    const backend = { service: { name: props.serviceName, port: { name: "http" } } };
    const rule = { host: this.host, http: { path: [{ path: "/", pathType: "Prefix", backend }] } };
    this.ingress = new IngressV1(this, "Ingress", {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: { ...props.labels },
        annotations: annotationsFor(exposure),
      },
      spec: {
        ingressClassName: exposure.kind === "alb" ? "alb" : (exposure.ingressClassName ?? "nginx"),
        rule: [rule],
        tls: [
          exposure.kind === "alb" ? { hosts: [this.host] } : { hosts: [this.host], secretName: `${props.name}-tls` },
        ],
      },
      waitForLoadBalancer: exposure.dns !== undefined,
    });
    this.dnsRecord = exposure.dns
      ? new Route53Record(this, "Dns", {
          zoneId: exposure.dns.zoneId,
          name: this.host,
          type: "CNAME",
          ttl: 60,
          records: [this.ingress.status.get(0).loadBalancer.get(0).ingress.get(0).hostname],
        })
      : undefined;
  }
}

/** The NetworkPolicy source that carries the exposure's traffic to the pods. */
export function exposureSource(exposure: GatewayExposure): ExposureSource {
  return exposure.kind === "alb"
    ? { cidrs: exposure.sourceCidrs ?? ["0.0.0.0/0"] }
    : { namespace: exposure.controllerNamespace ?? "ingress-nginx" };
}

function annotationsFor(exposure: GatewayExposure): Record<string, string> {
  if (exposure.kind === "cert-manager") return { "cert-manager.io/cluster-issuer": exposure.clusterIssuer };
  return {
    "alb.ingress.kubernetes.io/scheme": exposure.scheme ?? "internet-facing",
    "alb.ingress.kubernetes.io/target-type": "ip",
    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS":443}]',
    "alb.ingress.kubernetes.io/certificate-arn": exposure.certificateArn,
    "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "alb.ingress.kubernetes.io/healthcheck-path": "/healthz",
    "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
  };
}

function hostOf(scope: Construct, publicUrl: string): string {
  const fix = "set the authorization server's audience (OktaApps gatewayUri) to a literal https URL";
  if (Token.isUnresolved(publicUrl))
    throw new Error(`${scope.node.path}: GatewayDeployment.exposure: the public URL is known only at apply: ${fix}`);
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new Error(`${scope.node.path}: GatewayDeployment.exposure: "${publicUrl}" is not a URL: ${fix}`);
  }
  if (url.protocol !== "https:")
    throw new Error(`${scope.node.path}: GatewayDeployment.exposure: "${publicUrl}" is not https: ${fix}`);
  return url.hostname;
}
