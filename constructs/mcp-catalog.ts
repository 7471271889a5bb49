import type { BundleInput } from "../policies/bundle/index.js";
import type { IMcpUpstream } from "./refs.js";

type McpInput = NonNullable<BundleInput["mcp"]>;

/** A role's MCP endpoint, served at `<mcpPath>/<role>`: a virtual MCP server showing only the role's tools. */
export interface McpRoleEndpoint {
  /** The role: lower-case letters, digits and '-', at most 16 characters. The endpoint is `<mcpPath>/<role>`. */
  readonly role: string;
  /**
   * The role's tools: patterns (`*` wildcards) of each upstream's own tool names. Only these are listed and
   * callable on the endpoint, and only when the caller's scopes allow them too: an endpoint never widens access.
   */
  readonly tools: readonly { readonly upstream: IMcpUpstream; readonly tools: readonly string[] }[];
  /**
   * `"upstream"` keeps the upstream's own tool, prompt and resource names (no `<upstream>__` prefix); it needs
   * tools of a single upstream, or synth fails naming the field.
   * @default "namespaced"
   */
  readonly toolNames?: "namespaced" | "upstream";
  /**
   * `"progressive"`: `tools/list` shows `tollgate_search_tools` and `tollgate_select_tools` plus the client's
   * working set (for large catalogs).
   * @default "all"
   */
  readonly discovery?: "all" | "progressive";
}

/** How the gateway shows its MCP catalog: on the main MCP path, and per role. */
export interface McpCatalogSettings {
  /**
   * Names on the main MCP path. `"upstream"` needs a single MCP route, or synth fails naming the field.
   * @default "namespaced" (`<upstream>__<tool>`)
   */
  readonly toolNames?: "namespaced" | "upstream";
  /** How the main MCP path lists tools. @default "all" */
  readonly discovery?: "all" | "progressive";
  /** Per-role endpoints, each with its own RFC 9728 metadata (`resource` = `<publicUrl><mcpPath>/<role>`). @default none */
  readonly endpoints?: readonly McpRoleEndpoint[];
}

/** The bundle's `mcp` fields for `settings`; nothing when unset (the schema's defaults apply). */
export function mcpCatalogFields(
  settings: McpCatalogSettings | undefined,
): Partial<Pick<McpInput, "toolNames" | "discovery" | "endpoints">> {
  if (!settings) return {};
  return {
    ...(settings.toolNames ? { toolNames: settings.toolNames } : {}),
    ...(settings.discovery ? { discovery: settings.discovery } : {}),
    ...(settings.endpoints
      ? {
          endpoints: settings.endpoints.map((endpoint) => ({
            role: endpoint.role,
            tools: endpoint.tools.map((entry) => ({ upstream: entry.upstream.upstreamId, tools: [...entry.tools] })),
            ...(endpoint.toolNames ? { toolNames: endpoint.toolNames } : {}),
            ...(endpoint.discovery ? { discovery: endpoint.discovery } : {}),
          })),
        }
      : {}),
  };
}
