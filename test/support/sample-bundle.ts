/**
 * A complete, realistic bundle for tests: two MCP upstreams, two LLM routes, one guard policy.
 * Tests that need other values copy it and change what they test (`structuredClone`).
 */
import type { BundleInput } from "../../policies/bundle/index.js";

export function sampleBundle(overrides: { issuer?: string; publicUrl?: string } = {}): BundleInput {
  const publicUrl = overrides.publicUrl ?? "https://gateway.example.com";
  const issuer = overrides.issuer ?? "https://example.okta.com/oauth2/aus123";
  return {
    apiVersion: "tollgate.dev/v1alpha1",
    kind: "GatewayBundle",
    metadata: { environment: "dev", stack: "tollgate-dev", gateway: "gateway" },
    server: { publicUrl },
    auth: { issuer, audiences: [publicUrl] },
    protectedResource: {
      resource: `${publicUrl}/mcp`,
      authorizationServers: [issuer],
      scopesSupported: ["mcp:read", "mcp:write", "mcp:admin"],
    },
    llm: {
      routes: [
        {
          id: "openai",
          pathPrefix: "/openai",
          policy: "default",
          providers: [
            { id: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKey: { env: "OPENAI_API_KEY" } },
          ],
        },
        {
          id: "anthropic",
          pathPrefix: "/anthropic",
          policy: "default",
          providers: [
            {
              id: "anthropic",
              kind: "anthropic",
              baseUrl: "https://api.anthropic.com",
              apiKey: { env: "ANTHROPIC_API_KEY" },
            },
            {
              id: "openai-fallback",
              kind: "openai",
              baseUrl: "https://api.openai.com/v1",
              apiKey: { env: "OPENAI_API_KEY" },
            },
          ],
        },
      ],
    },
    mcp: {
      path: "/mcp",
      policy: "default",
      upstreams: [
        { id: "memory", transport: { type: "stdio", command: "node", args: ["server-memory.js"] } },
        {
          id: "github",
          transport: { type: "streamable-http", url: "https://api.githubcopilot.com/mcp/" },
          credentials: {
            mode: "secret-header",
            header: "Authorization",
            prefix: "Bearer ",
            value: { env: "GITHUB_TOKEN" },
          },
        },
      ],
      grants: [
        { scope: "mcp:read", upstream: "memory", tools: ["read_*", "search_*", "open_*"] },
        { scope: "mcp:write", upstream: "memory", tools: ["create_*", "add_*"] },
        { scope: "mcp:read", upstream: "github", tools: ["list_*", "get_*", "search_*"] },
        { scope: "mcp:admin", upstream: "memory", tools: ["*"] },
      ],
      deny: [],
      alwaysBlocked: [{ upstream: "*", tools: ["*delete*", "*destroy*", "merge_pull_request"], reason: "destructive" }],
    },
    guardPolicies: [
      {
        id: "default",
        pii: { mode: "mask" },
        promptInjection: { mode: "block" },
        credentialLeak: { mode: "block" },
        limits: { windowSeconds: 60, requestsPerWindow: 60, tokensPerWindow: 100_000 },
      },
    ],
  };
}
