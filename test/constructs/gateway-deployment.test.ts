import { describe, expect, it } from "vitest";
import { findKnownCredential } from "../../policies/secrets/known-formats.js";
import { ENVIRONMENTS } from "../../stacks/environments.js";
import { DIGEST, smallPlatform } from "./fixtures.js";
import { checkErrors, environmentStack, resources, single, synthJson } from "./synth-helpers.js";

type Container = {
  image: string;
  args: string[];
  env: { name: string; value?: string; value_from?: { secret_key_ref: { name: string; key: string } } }[];
  security_context: Record<string, unknown>;
  liveness_probe: { http_get: { path: string } };
  readiness_probe: { http_get: { path: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  volume_mount: { mount_path: string; read_only?: boolean }[];
};

describe("GatewayDeployment", () => {
  const prodStack = environmentStack("prod");
  const prod = synthJson(prodStack);
  const dev = synthJson(environmentStack("dev"));
  const deployment = single(prod, "kubernetes_deployment") as {
    spec: {
      replicas: string;
      template: {
        spec: {
          container: Container[];
          security_context: Record<string, unknown>;
          automount_service_account_token: boolean;
        };
      };
    };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.container[0] as Container;

  it("runs prod with at least two replicas and dev with one", () => {
    expect(Number(deployment.spec.replicas)).toBeGreaterThanOrEqual(2);
    expect((single(dev, "kubernetes_deployment") as typeof deployment).spec.replicas).toBe("1");
  });

  it("runs as non-root on a read-only root filesystem without privilege escalation", () => {
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: "RuntimeDefault" } });
    expect(container.security_context).toMatchObject({
      run_as_non_root: true,
      read_only_root_filesystem: true,
      allow_privilege_escalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.automount_service_account_token).toBe(false);
  });

  it("pins the prod image by digest and serves the mounted bundle with its values", () => {
    expect(container.image).toBe(
      `${ENVIRONMENTS.prod.gatewayImage.repository}@${ENVIRONMENTS.prod.gatewayImage.digest}`,
    );
    expect(container.args).toEqual([
      "serve",
      "--bundle",
      "/etc/tollgate/bundle.json",
      "--values",
      "/etc/tollgate/values.json",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
    ]);
    expect(container.volume_mount).toContainEqual({ name: "bundle", mount_path: "/etc/tollgate", read_only: true });
  });

  it("has liveness and readiness probes and resource requests", () => {
    expect(container.liveness_probe.http_get.path).toBe("/healthz");
    expect(container.readiness_probe.http_get.path).toBe("/readyz");
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toBeDefined();
  });

  it("takes every provider key from the Kubernetes Secret, never from a literal", () => {
    const secretEnv = container.env.filter((e) => e.value_from);
    expect(secretEnv.map((e) => e.name).sort()).toEqual([
      "ANTHROPIC_API_KEY",
      "GITHUB_TOKEN",
      "OKTA_AGENT_PRIVATE_KEY",
      "OPENAI_API_KEY",
      "REDIS_URL",
      "TICKETS_API_TOKEN",
      "XAI_API_KEY",
    ]);
    expect(container.env.filter((e) => e.value !== undefined)).toEqual([
      { name: "TOLLGATE_SECRETS_DIR", value: "/var/run/tollgate/secrets" },
    ]);
  });

  it("keeps secret values out of plan and state: ephemeral variables into the Secret's write-only data_wo", () => {
    const secret = single(prod, "kubernetes_secret_v1") as {
      data?: unknown;
      data_wo: Record<string, string>;
      data_wo_revision: number;
    };
    expect(secret.data).toBeUndefined();
    expect(Object.keys(secret.data_wo).length).toBe(7);
    for (const [key, value] of Object.entries(secret.data_wo))
      expect(value).toBe(`\${var.gateway_${key.toLowerCase()}}`);
    expect(secret.data_wo_revision).toBe(1);
    // Every gateway secret's variable; the agent app's public keys are no secret and reach Okta as they are.
    for (const [name, variable] of Object.entries(prod.variable ?? {}))
      if (name.startsWith("gateway_"))
        expect(variable).toMatchObject({ sensitive: true, ephemeral: true, type: "string" });
    expect(Object.keys(prod.variable ?? {}).filter((name) => !name.startsWith("gateway_"))).toEqual([
      "tollgate_prod_agent_coding_public_jwks",
      "tollgate_prod_agent_public_jwks",
      "tollgate_prod_agent_triage_public_jwks",
    ]);
  });

  it("mounts the Secret's keys as read-only files, so a rotated key is read without a restart", () => {
    expect(container.volume_mount).toContainEqual({
      name: "secrets",
      mount_path: "/var/run/tollgate/secrets",
      read_only: true,
    });
  });

  it("exposes prod through an ALB Ingress with TLS on the gateway's host, and a DNS record for it", () => {
    const ingress = single(prod, "kubernetes_ingress_v1") as {
      metadata: { annotations: Record<string, string> };
      spec: { ingress_class_name: string; rule: { host: string }[]; tls: { hosts: string[] }[] };
      wait_for_load_balancer: boolean;
    };
    expect(ingress.spec.ingress_class_name).toBe("alb");
    expect(ingress.spec.rule.map((r) => r.host)).toEqual(["gateway.tollgate.example.com"]);
    expect(ingress.spec.tls).toEqual([{ hosts: ["gateway.tollgate.example.com"] }]);
    expect(ingress.metadata.annotations).toMatchObject({
      "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS":443}]',
      "alb.ingress.kubernetes.io/certificate-arn": expect.stringMatching(/^arn:aws:acm:/),
    });
    expect(single(prod, "aws_route53_record")).toMatchObject({
      name: "gateway.tollgate.example.com",
      type: "CNAME",
      records: [
        expect.stringMatching(
          /^\$\{kubernetes_ingress_v1\.\w+\.status\[0\]\.load_balancer\[0\]\.ingress\[0\]\.hostname\}$/,
        ),
      ],
    });
    expect(resources(dev, "kubernetes_ingress_v1")).toEqual([]);
  });

  it("adds a Service, a PodDisruptionBudget, an autoscaler from the replica count, and a default-deny NetworkPolicy", () => {
    expect(single(prod, "kubernetes_service_v1")).toMatchObject({ spec: { type: "ClusterIP" } });
    expect(single(prod, "kubernetes_pod_disruption_budget_v1")).toMatchObject({ spec: { max_unavailable: "1" } });
    expect(single(prod, "kubernetes_horizontal_pod_autoscaler_v2")).toMatchObject({
      spec: { min_replicas: 3, max_replicas: 9 },
    });
    const policy = single(prod, "kubernetes_network_policy_v1") as {
      spec: { policy_types: string[]; egress: { ports: { port: string }[] }[] };
    };
    expect(policy.spec.policy_types).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.egress.flatMap((e) => e.ports.map((p) => p.port)).sort()).toEqual(["443", "53", "53", "6379"]);
  });

  it("puts the reviewed bundle in the ConfigMap byte for byte, with values.json rendered by Terraform", () => {
    const configMap = single(prod, "kubernetes_config_map") as { data: Record<string, string> };
    const gateway = prodStack.platform.gateway;
    expect(configMap.data["bundle.json"]).toBe(gateway.bundle.bundleText());
    expect(configMap.data["values.json"]).toMatch(
      /^\$\{jsonencode\(\{.*"okta\.issuer" = okta_auth_server\.\w+\.issuer[,}]/,
    );
    for (const name of [
      "okta.issuer",
      "okta.discoveryUrl",
      "okta.jwksUri",
      "okta.tokenUrl",
      "okta.clients.user.id",
      "okta.clients.agent.id",
    ]) {
      expect(configMap.data["values.json"]).toContain(`"${name}" = `);
      expect(configMap.data["bundle.json"]).toContain(`{{apply:${name}}}`);
    }
  });

  it("escapes Terraform template syntax in the bundle, so the ConfigMap holds the bundle's text unchanged", () => {
    const platform = smallPlatform();
    const reason = "ask ${var.admin} first, %{if true}now%{endif}";
    platform.scopes.denyTools(platform.docs, ["purge_*"], reason);
    const configMap = single(synthJson(platform.stack), "kubernetes_config_map") as { data: Record<string, string> };
    const bundleText = platform.bundle.bundleText();
    expect(bundleText).toContain(JSON.stringify(reason));
    // Terraform renders `$${` as `${` and `%%{` as `%{`: what it writes is the bundle, byte for byte.
    const written = configMap.data["bundle.json"] ?? "";
    expect(written).toContain("ask $${var.admin} first, %%{if true}now%%{endif}");
    expect(written.replaceAll("$${", "${").replaceAll("%%{", "%{")).toBe(bundleText);
  });

  it("never writes a secret literal into cdk.tf.json", () => {
    const strings: string[] = [];
    const walk = (node: unknown): void => {
      if (typeof node === "string") strings.push(node);
      else if (node && typeof node === "object") Object.values(node).forEach(walk);
    };
    walk(prod);
    expect(strings.filter((s) => findKnownCredential(s))).toEqual([]);
    // Okta client secrets never enter state: no attribute carries one.
    expect(JSON.stringify(resources(prod, "okta_app_oauth"))).not.toMatch(/"client_(basic_)?secret"/);
  });

  it("keeps dev state local and prod state in S3 with locking", () => {
    expect(dev.terraform.backend).toEqual({
      local: { path: ENVIRONMENTS.dev.backend.kind === "local" ? ENVIRONMENTS.dev.backend.path : "" },
    });
    expect(prod.terraform.backend?.s3).toMatchObject({
      use_lockfile: true,
      encrypt: true,
      key: "tollgate-prod/terraform.tfstate",
    });
  });

  it("declares four okta_app_oauth (users, the gateway's agent app, two agents), three scopes and rules", () => {
    expect(resources(prod, "okta_app_oauth")).toHaveLength(4);
    expect(Object.fromEntries(resources(prod, "okta_auth_server_scope").map((s) => [s.name, s.consent]))).toEqual({
      "mcp:read": "IMPLICIT",
      "mcp:write": "IMPLICIT",
      "mcp:admin": "REQUIRED",
    });
    expect(resources(prod, "okta_auth_server_policy_rule").length).toBeGreaterThanOrEqual(1);
  });
});

describe("GatewayDeployment with an in-cluster Redis for shared limits", () => {
  const inCluster = (digest?: string) => ({
    image: { repository: "docker.io/library/redis", ...(digest ? { digest } : { tag: "7.4-alpine" }) },
  });
  const shared = { rateLimitStore: { type: "redis" as const } };
  const platform = smallPlatform({ bundle: shared, gateway: { redis: inCluster(DIGEST) } });
  const tf = synthJson(platform.stack);

  it("runs Redis non-root on a read-only filesystem, reachable only from the gateway pods", () => {
    const redis = resources(tf, "kubernetes_deployment").find(
      (d) => (d as { metadata: { name: string } }).metadata.name === "gateway-redis",
    ) as {
      spec: { template: { spec: { container: Container[] } } };
    };
    expect(redis.spec.template.spec.container[0]?.security_context).toMatchObject({
      run_as_non_root: true,
      read_only_root_filesystem: true,
    });
    const policy = resources(tf, "kubernetes_network_policy_v1").find(
      (p) => (p as { metadata: { name: string } }).metadata.name === "gateway-redis",
    );
    expect(policy).toMatchObject({
      spec: {
        ingress: [{ from: [{ pod_selector: { match_labels: { "app.kubernetes.io/name": "tollgate-gateway" } } }] }],
      },
    });
  });

  const deploymentNamed = (name: string) =>
    resources(tf, "kubernetes_deployment").find(
      (d) => (d as { metadata: { name: string } }).metadata.name === name,
    ) as { spec: { template: { spec: { container: Container[] } } } };
  const fromGatewaySecret = {
    secret_key_ref: {
      name: expect.stringMatching(/^\$\{kubernetes_secret_v1\.\w+\.metadata\[0\]\.name\}$/),
      key: "REDIS_PASSWORD",
    },
  };

  it("makes Redis require the password from the gateway Secret, for clients and its own probe", () => {
    const redis = deploymentNamed("gateway-redis").spec.template.spec.container[0] as Container & {
      readiness_probe: { exec: { command: string[] } };
    };
    expect(redis.args.slice(-2)).toEqual(["--requirepass", "$(REDIS_PASSWORD)"]);
    expect(redis.env).toEqual([
      { name: "REDIS_PASSWORD", value_from: fromGatewaySecret },
      { name: "REDISCLI_AUTH", value_from: fromGatewaySecret },
    ]);
    // redis-cli exits 0 on NOAUTH too: only a PONG makes the pod ready.
    expect(redis.readiness_probe.exec.command).toEqual(["sh", "-c", "redis-cli ping | grep -q PONG"]);
  });

  it("feeds the password to the gateway as a sensitive variable and builds the URL from it in the pod", () => {
    const env = deploymentNamed("gateway").spec.template.spec.container[0]?.env ?? [];
    const password = env.findIndex((e) => e.name === "REDIS_PASSWORD");
    const url = env.findIndex((e) => e.name === "REDIS_URL");
    expect(env[password]?.value_from).toEqual(fromGatewaySecret);
    // Kubernetes expands $(REDIS_PASSWORD) only from a variable defined earlier in the list.
    expect(password).toBeGreaterThanOrEqual(0);
    expect(url).toBeGreaterThan(password);
    expect(env[url]?.value).toMatch(
      /^redis:\/\/:\$\(REDIS_PASSWORD\)@\$\{kubernetes_service_v1\.\w+\.metadata\[0\]\.name\}\.\$\{kubernetes_namespace_v1\.\w+\.metadata\[0\]\.name\}\.svc\.cluster\.local:6379$/,
    );
    const variable = tf.variable?.gateway_redis_password as
      { sensitive: boolean; validation: { condition: string; error_message: string }[] } | undefined;
    expect(variable?.sensitive).toBe(true);
    expect(variable?.validation).toEqual([
      {
        condition: '${can(regex("^[A-Za-z0-9_-]{32,}$", var.gateway_redis_password))}',
        error_message: expect.stringContaining("at least 32 URL-safe characters"),
      },
    ]);
    // The URL is no secret of its own: no variable and no Secret key for it.
    expect(Object.keys(tf.variable ?? {}).filter((v) => v.includes("redis"))).toEqual(["gateway_redis_password"]);
    const secret = single(tf, "kubernetes_secret_v1") as { data_wo: Record<string, string> };
    expect(secret.data_wo.REDIS_PASSWORD).toBe("${var.gateway_redis_password}");
    expect(secret.data_wo.REDIS_URL).toBeUndefined();
    expect(platform.bundle.bundle().rateLimitStore).toEqual({
      type: "redis",
      url: { env: "REDIS_URL" },
      onUnavailable: "fail-closed",
    });
    expect(platform.gateway.sharedLimits).toBe(true);
  });

  it("takes the password from an existing Secret under the key it is told", () => {
    const own = smallPlatform({
      bundle: shared,
      gateway: {
        secrets: { existingSecretName: "gateway-keys" },
        redis: { ...inCluster(DIGEST), passwordSecretEnv: "LIMITS_REDIS_PASSWORD" },
      },
    });
    const ownTf = synthJson(own.stack);
    const redis = (
      resources(ownTf, "kubernetes_deployment").find(
        (d) => (d as { metadata: { name: string } }).metadata.name === "gateway-redis",
      ) as { spec: { template: { spec: { container: Container[] } } } }
    ).spec.template.spec.container[0];
    expect(redis?.env[0]?.value_from).toEqual({
      secret_key_ref: { name: "gateway-keys", key: "LIMITS_REDIS_PASSWORD" },
    });
    expect(own.gateway.secretEnvNames).toContain("LIMITS_REDIS_PASSWORD");
    // No secret variable: only the agent app's public keys (private_key_jwt).
    expect(Object.keys(ownTf.variable ?? {})).toEqual(["small_agent_public_jwks"]);
  });

  it("refuses an unpinned Redis image outside dev (TG-IMG-001)", () => {
    const errors = checkErrors(smallPlatform({ bundle: shared, gateway: { redis: inCluster() } }).stack);
    expect(errors).toEqual([expect.stringContaining("Redis image docker.io/library/redis is not pinned by digest")]);
  });
});
