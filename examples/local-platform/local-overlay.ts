/**
 * The local overlay: how the synthesized bundle is pointed at the local stand-ins without editing it.
 *
 * An overlay (policies/bundle/overlay.ts) may only
 * - give values to `{{apply:NAME}}` placeholders (what Terraform would render into values.json),
 * - replace the transport of named MCP upstreams (their credentials become `none`),
 * - point named OpenAPI upstreams at local stand-ins of their REST services (credentials `none` too),
 * - replace the base URL and key of named LLM providers,
 * - move the gateway's canonical URI (publicUrl, protected resource, audience) to the local address.
 * Grants, deny rules, always-blocked tools, guard policies and limits stay exactly as synthesized, so
 * the local gateway enforces the same policy as the deployed one.
 */
import { createRequire } from "node:module";
import { type Overlay, listPlaceholders } from "../../policies/bundle/index.js";
import { matchesToolPattern } from "../../policies/tools/index.js";

const require = createRequire(import.meta.url);

/** The local stand-ins the overlay points at. */
export interface LocalEndpoints {
  /** The local authorization server's issuer (stands in for the Okta custom authorization server). */
  readonly issuer: string;
  /** The local gateway's canonical URI: the token audience and the protected resource. */
  readonly gatewayUrl: string;
  /** Local client id by `okta_app_oauth` resource name and by label. */
  readonly clientIds: Readonly<Record<string, string>>;
  /** The local LLM upstream for a provider (`routeId/providerId`): origin without a path. */
  readonly llmUpstreamUrl: (routeId: string, providerId: string) => string;
  /** Throw-away directory for MCP server state (memory graph file, filesystem root). */
  readonly workDir: string;
  /** Base URLs of local REST services, by OpenAPI upstream id (`tickets` → the local tickets service). */
  readonly restServices?: Readonly<Record<string, string>>;
}

/** Environment variable holding the key the local gateway sends to the local LLM upstream. */
export const LOCAL_LLM_KEY_ENV = "TOLLGATE_LOCAL_LLM_KEY";

/** The real MCP servers the local platform runs, by kind. */
export type LocalMcpServer = "memory" | "filesystem";

interface BundleShape {
  mcp?: {
    upstreams?: { id: string; transport?: { type?: string } }[];
    grants?: { scope: string; upstream: string; tools: string[] }[];
  };
  llm?: { routes?: { id: string; providers: { id: string; kind: string }[] }[] };
}

/** Tool names of the real MCP servers the local platform runs (their read, write and delete tools). */
export const MEMORY_TOOLS = [
  "create_entities",
  "create_relations",
  "add_observations",
  "delete_entities",
  "delete_observations",
  "delete_relations",
  "read_graph",
  "search_nodes",
  "open_nodes",
];

/**
 * Which real MCP server stands in for which upstream of the example. server-memory (read, write and
 * delete tools) goes to the upstream whose non-wildcard grants name the most of its tools, so the
 * example's read and write scopes each unlock some of them; every other upstream gets server-filesystem
 * on its own throw-away directory.
 */
export function assignMcpServers(bundle: unknown): Record<string, LocalMcpServer> {
  const mcp = (bundle as BundleShape).mcp;
  // OpenAPI upstreams are REST services the gateway calls itself: they get a REST stand-in, not an MCP server.
  const upstreams = (mcp?.upstreams ?? []).filter((u) => u.transport?.type !== "openapi");
  const fit = (id: string) =>
    MEMORY_TOOLS.filter((tool) =>
      (mcp?.grants ?? []).some(
        (g) => g.upstream === id && g.tools.some((p) => p !== "*" && matchesToolPattern(p, tool)),
      ),
    ).length;
  let best: string | undefined;
  for (const u of upstreams) if (best === undefined || fit(u.id) > fit(best)) best = u.id;
  return Object.fromEntries(upstreams.map((u) => [u.id, u.id === best ? "memory" : "filesystem"]));
}

function mcpTransport(upstreamId: string, server: LocalMcpServer, workDir: string): Overlay["mcpUpstreams"][string] {
  if (server === "memory") {
    return {
      type: "stdio",
      command: process.execPath,
      args: [require.resolve("@modelcontextprotocol/server-memory/dist/index.js")],
      env: { MEMORY_FILE_PATH: `${workDir}/${upstreamId}-memory.jsonl` },
    };
  }
  return {
    type: "stdio",
    command: process.execPath,
    args: [require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js"), `${workDir}/${upstreamId}-files`],
    env: {},
  };
}

/** The API base of a provider kind on a local upstream origin (OpenAI bases end in /v1, Anthropic's do not). */
export function providerBaseUrl(kind: string, origin: string): string {
  return kind === "anthropic" ? origin : `${origin}/v1`;
}

/**
 * The value a placeholder takes locally. Placeholder names come from the constructs
 * (`okta.issuer`, `okta.clients.<app>.id`, `gateway.url`, …); an unknown name is an error that names it.
 */
export function localPlaceholderValue(name: string, endpoints: LocalEndpoints): string {
  const lower = name.toLowerCase();
  const segments = lower.split(".");
  const last = segments[segments.length - 1] ?? "";
  if (
    lower.includes("client") &&
    (last === "id" || last === "clientid" || last === "client_id" || last === "client-id")
  ) {
    const match = Object.entries(endpoints.clientIds).find(([key]) => segments.includes(key.toLowerCase()));
    if (match) return match[1];
    throw new Error(
      `placeholder {{apply:${name}}}: no local client matches; local clients are ${Object.keys(endpoints.clientIds).join(", ")}`,
    );
  }
  if (lower.includes("discovery")) return `${endpoints.issuer}/.well-known/openid-configuration`;
  if (lower.includes("jwks")) return `${endpoints.issuer}/jwks`;
  if (lower.includes("token")) return `${endpoints.issuer}/token`;
  if (lower.includes("issuer") || (lower.startsWith("okta.") && lower.includes("url"))) return endpoints.issuer;
  if (lower.includes("mcp") && lower.includes("url")) return `${endpoints.gatewayUrl}/mcp`;
  if (lower.includes("gateway") || lower.includes("public") || lower.includes("audience") || lower.includes("url"))
    return endpoints.gatewayUrl;
  throw new Error(
    `placeholder {{apply:${name}}} has no local value: teach examples/local-platform/local-overlay.ts what it stands for`,
  );
}

/** Builds the overlay that points a synthesized bundle at the local stand-ins. */
export function buildLocalOverlay(bundle: unknown, endpoints: LocalEndpoints): Overlay {
  const values = Object.fromEntries(
    listPlaceholders(bundle).map((name) => [name, localPlaceholderValue(name, endpoints)]),
  );
  const mcpUpstreams = Object.fromEntries(
    Object.entries(assignMcpServers(bundle)).map(([id, server]) => [id, mcpTransport(id, server, endpoints.workDir)]),
  );
  const llmProviders: Overlay["llmProviders"] = {};
  for (const route of (bundle as BundleShape).llm?.routes ?? []) {
    for (const provider of route.providers) {
      llmProviders[`${route.id}/${provider.id}`] = {
        baseUrl: providerBaseUrl(provider.kind, endpoints.llmUpstreamUrl(route.id, provider.id)),
        apiKey: { env: LOCAL_LLM_KEY_ENV },
      };
    }
  }
  const openApiUpstreams: Overlay["openApiUpstreams"] = {};
  for (const upstream of (bundle as BundleShape).mcp?.upstreams ?? []) {
    const baseUrl = endpoints.restServices?.[upstream.id];
    if (upstream.transport?.type === "openapi" && baseUrl !== undefined) openApiUpstreams[upstream.id] = { baseUrl };
  }
  // The gateway answers at the local address: tokens, protected-resource metadata and clients agree on it.
  return { values, publicUrl: endpoints.gatewayUrl, mcpUpstreams, openApiUpstreams, llmProviders };
}
