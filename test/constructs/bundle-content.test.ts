import { describe, expect, it } from "vitest";
import type { BundleInput } from "../../policies/bundle/index.js";
import { TerraformVariable } from "cdktf";
import { validateSynthBundle } from "../../policies/bundle/index.js";
import { GatewayRoute, GuardPolicy } from "../../constructs/index.js";
import { smallPlatform } from "./fixtures.js";
import { environmentStack, single, synthJson } from "./synth-helpers.js";

describe("the devops-copilot bundle (what the constructs compile)", () => {
  const stack = environmentStack("prod");
  const bundle = stack.platform.bundle.bundle() as BundleInput;

  it("routes /anthropic, /openai and /xai to ordered providers with failover, keys by reference only", () => {
    const routes = bundle.llm?.routes ?? [];
    expect(routes.map((r) => [r.id, r.pathPrefix, r.providers.map((p) => p.id)])).toEqual([
      ["anthropic", "/anthropic", ["anthropic", "openai-fallback"]],
      ["openai", "/openai", ["openai", "xai-fallback"]],
      ["xai", "/xai", ["xai", "openai-fallback"]],
    ]);
    for (const provider of routes.flatMap((r) => r.providers))
      expect(provider.apiKey).toEqual({ env: expect.stringMatching(/^[A-Z_]+_API_KEY$/) });
    expect(routes.every((r) => r.failover?.on?.includes("429") && r.policy === "default")).toBe(true);
  });

  it("fronts Slack through token exchange on the user's behalf and GitHub with a secret header", () => {
    const [slack, github] = bundle.mcp?.upstreams ?? [];
    expect(slack).toMatchObject({
      id: "slack",
      transport: { type: "streamable-http", url: "https://slack-mcp.internal.tollgate.example.com/mcp" },
      credentials: {
        mode: "token-exchange",
        tokenUrl: "{{apply:okta.tokenUrl}}",
        clientId: "{{apply:okta.clients.agent.id}}",
        privateKeyJwt: { privateKey: { env: "OKTA_AGENT_PRIVATE_KEY" } },
        audience: "api://slack-mcp",
      },
    });
    expect(github).toMatchObject({
      id: "github",
      credentials: {
        mode: "secret-header",
        header: "Authorization",
        prefix: "Bearer ",
        value: { env: "GITHUB_TOKEN" },
      },
    });
  });

  it("grants read tools to mcp:read, named write tools to mcp:write, everything to mcp:admin, and always blocks destructive tools", () => {
    const grants = bundle.mcp?.grants ?? [];
    expect(grants.filter((g) => g.scope === "mcp:read").map((g) => g.upstream)).toEqual(["slack", "github", "tickets"]);
    // The tickets service's OpenAPI operations: GETs to readers, the rest to writers, never deleteTicket.
    expect(grants.filter((g) => g.upstream === "tickets").map((g) => [g.scope, g.tools])).toEqual([
      ["mcp:read", ["listTickets", "getTicket"]],
      ["mcp:write", ["createTicket", "updateTicket"]],
    ]);
    expect(grants.find((g) => g.scope === "mcp:write" && g.upstream === "slack")?.tools).toContain(
      "slack_post_message",
    );
    expect(grants.filter((g) => g.scope === "mcp:admin").every((g) => g.tools.join() === "*")).toBe(true);
    expect(bundle.mcp?.alwaysBlocked).toEqual([
      {
        upstream: "*",
        tools: expect.arrayContaining(["*delete*", "*destroy*", "merge_pull_request"]),
        reason: expect.stringContaining("destructive"),
      },
    ]);
  });

  it("guards with PII masking, prompt-injection and credential-leak blocking, per-user limits, shared through Redis in prod", () => {
    expect(bundle.guardPolicies).toEqual([
      {
        id: "default",
        pii: { mode: "mask" },
        promptInjection: { mode: "block" },
        credentialLeak: { mode: "block" },
        limits: { windowSeconds: 60, requestsPerWindow: 60, tokensPerWindow: 100_000 },
      },
    ]);
    expect(bundle.rateLimitStore).toEqual({ type: "redis", url: { env: "REDIS_URL" }, onUnavailable: "fail-closed" });
    expect((environmentStack("dev").platform.bundle.bundle() as BundleInput).rateLimitStore).toEqual({
      type: "memory",
    });
  });

  it("authenticates against the Okta authorization server, accepting only the platform's clients", () => {
    expect(bundle.auth).toMatchObject({
      issuer: "{{apply:okta.issuer}}",
      discoveryUrl: "{{apply:okta.discoveryUrl}}",
      audiences: ["https://gateway.tollgate.example.com"],
      allowedClients: [
        "{{apply:okta.clients.user.id}}",
        "{{apply:okta.clients.agent.id}}",
        "{{apply:okta.clients.agent-triage.id}}",
        "{{apply:okta.clients.agent-coding.id}}",
      ],
    });
    expect(bundle.protectedResource).toEqual({
      resource: "https://gateway.tollgate.example.com/mcp",
      authorizationServers: ["{{apply:okta.issuer}}"],
      scopesSupported: ["mcp:read", "mcp:write", "mcp:admin"],
    });
  });
});

describe("construct prop errors name the prop to fix", () => {
  it("an MCP route needs exactly one of url or command", () => {
    expect(() => smallPlatform({ mcp: { command: "node" } })).toThrow(
      /^small\/Docs: GatewayRoute\.mcp: set exactly one of \{ url \} \(streamable HTTP\) or \{ command \} \(stdio\)/,
    );
  });

  it("a stdio upstream's secret from a file is refused: GatewayDeployment mounts no files, the fix is an env secret", () => {
    const platform = () =>
      smallPlatform({ mcp: { url: undefined, command: "node", env: { "gh-token": { file: "/var/run/secrets/gh" } } } });
    expect(platform).toThrow(
      /small\/Docs: GatewayRoute\.mcp env\.gh-token: \{ file: "\/var\/run\/secrets\/gh" \} would not exist in the gateway's pods .*use \{ env: "GH_TOKEN" \}/,
    );
  });

  it("a stdio upstream's env secret is provided from the gateway's Secret", () => {
    const { stack } = smallPlatform({
      mcp: { url: undefined, command: "node", env: { GH_TOKEN: { env: "GH_TOKEN" } } },
    });
    const tf = synthJson(stack);
    const deployment = single(tf, "kubernetes_deployment") as {
      spec: {
        template: {
          spec: { container: { env: { name: string; value_from?: { secret_key_ref: { key: string } } }[] }[] };
        };
      };
    };
    expect(
      deployment.spec.template.spec.container[0]?.env.find((e) => e.name === "GH_TOKEN")?.value_from?.secret_key_ref
        .key,
    ).toBe("GH_TOKEN");
    expect(Object.keys((single(tf, "kubernetes_secret_v1") as { data_wo: Record<string, string> }).data_wo)).toContain(
      "GH_TOKEN",
    );
  });

  it("MCP upstreams must share one guard policy", () => {
    const platform = () =>
      smallPlatform({
        extraRoutes: (scope) => {
          const other = GatewayRoute.mcp(scope, "Other", {
            upstreamId: "other",
            url: "https://other.acme.example/mcp",
          });
          const docsPolicy = new GuardPolicy(scope, "DocsPolicy", { policyId: "docs" });
          const strict = new GuardPolicy(scope, "Strict", { pii: { mode: "block" } });
          const docs = scope.node.findChild("Docs") as GatewayRoute;
          docsPolicy.applyTo(docs);
          strict.applyTo(other);
          return [other];
        },
      });
    expect(platform).toThrow(
      /^small\/GatewayBundle: GatewayBundle routes: MCP upstreams share one guard policy, got docs, strict/,
    );
  });

  it("a malformed image digest is refused", () => {
    const platform = () =>
      smallPlatform({ gateway: { image: { repository: "ghcr.io/acme/tollgate", digest: "sha256:abc" } } });
    expect(platform).toThrow(/GatewayDeployment\.image\.digest: expected sha256:<64 hex digits>, got "sha256:abc"/);
  });

  it("a privileged scope that is not one of the scopes is refused", () => {
    const { stack } = smallPlatform({ privileged: ["mcp:root"] });
    expect(() => synthJson(stack)).toThrow(/McpScopes\.privileged: "mcp:root" is not one of the scopes/);
  });
});

describe("a gateway URL known only after apply", () => {
  const platform = smallPlatform({
    publicUrl: (scope) => new TerraformVariable(scope, "gateway_url", { type: "string" }).stringValue,
  });
  const tf = synthJson(platform.stack);

  it("is a placeholder in the bundle and a Terraform expression in values.json", () => {
    const bundle = platform.bundle.bundle() as BundleInput;
    expect(bundle.server.publicUrl).toBe("{{apply:gateway.publicUrl}}");
    expect(bundle.auth.audiences).toEqual(["{{apply:gateway.audience}}"]);
    expect(bundle.protectedResource.resource).toBe("{{apply:gateway.mcpUrl}}");
    expect(validateSynthBundle(bundle).ok).toBe(true);
    const values = (single(tf, "kubernetes_config_map") as { data: Record<string, string> }).data["values.json"];
    expect(values).toContain(`"gateway.publicUrl" = var.gateway_url`);
    expect(values).toContain(`"gateway.mcpUrl" = join("", [var.gateway_url, "/mcp"])`);
  });

  it("reaches the agent runtime as Terraform expressions", () => {
    const runtime = single(tf, "aws_bedrockagentcore_agent_runtime") as {
      environment_variables: Record<string, string>;
    };
    expect(runtime.environment_variables.TOLLGATE_MCP_URL).toBe(`\${join("", [var.gateway_url, "/mcp"])}`);
  });
});

describe("GatewayDeployment({ auth, telemetry })", () => {
  it("passes token verification settings into the bundle", () => {
    const platform = smallPlatform({
      bundle: {
        auth: {
          algorithms: ["ES256"],
          clockSkewSeconds: 10,
          requiredClaims: ["sub", "client_id"],
          tokenProfile: "rfc9068",
          maxTokenAgeSeconds: 3600,
          maxIssuerDocumentBytes: 65_536,
        },
        telemetry: { tracing: true },
      },
    });
    const bundle = platform.bundle.bundle() as BundleInput;
    expect(bundle.auth).toMatchObject({
      algorithms: ["ES256"],
      clockSkewSeconds: 10,
      requiredClaims: ["sub", "client_id"],
      tokenProfile: "rfc9068",
      maxTokenAgeSeconds: 3600,
      maxIssuerDocumentBytes: 65_536,
    });
    expect(bundle.auth).not.toHaveProperty("scopeClaim");
    expect(bundle.telemetry?.tracing).toEqual({ enabled: true, serviceName: "tollgate-gateway" });
  });

  it("passes client limits and a route's idle timeout into the bundle", () => {
    const platform = smallPlatform({ bundle: { clientLimits: { headersTimeoutMs: 5000, maxConnections: 2048 } } });
    const bundle = platform.bundle.bundle() as BundleInput;
    expect(bundle.server.clients).toEqual({ headersTimeoutMs: 5000, maxConnections: 2048 });
    const slow = GatewayRoute.llm(platform.stack, "Slow", {
      pathPrefix: "/slow",
      idleTimeoutMs: 120_000,
      providers: [{ id: "local", kind: "openai-compatible", baseUrl: "https://llm.acme.example/v1" }],
    });
    expect(slow.toLlmRoute("default")?.idleTimeoutMs).toBe(120_000);
  });

  it("an out-of-range setting fails synth naming the bundle field and the prop", () => {
    const { stack } = smallPlatform({ bundle: { auth: { clockSkewSeconds: 3600 } } });
    expect(() => synthJson(stack)).toThrow(/auth\.clockSkewSeconds: .* — set GatewayBundle\(\{ auth \}\)/);
  });
});
