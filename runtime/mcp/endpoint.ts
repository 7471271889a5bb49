/**
 * One MCP endpoint of the gateway: the main MCP path, or a role's `<mcp.path>/<role>` (the bundle's
 * `mcp.endpoints`). An endpoint decides what its sessions show: which upstreams they connect to, which tools
 * (a role's patterns; every tool on the main path), and under which names. It only narrows: every item it
 * shows is still decided by the caller's scopes (policies/tools), and an item it does not show is unknown
 * on it, neither listed nor callable, whatever the scopes.
 */
import type { Bundle, McpConfig, ToolDiscovery, ToolNaming } from "../../policies/bundle/index.js";
import { type CompiledPattern, compilePattern, namespacedUri, splitNamespacedUri } from "../../policies/tools/index.js";
import { roleEndpointPath } from "../auth/challenge.js";

export interface McpEndpoint {
  /** The path the endpoint is served at. */
  readonly path: string;
  /** The role, for a role endpoint; undefined on the main path. */
  readonly role: string | undefined;
  readonly naming: ToolNaming;
  readonly discovery: ToolDiscovery;
  /** The upstreams this endpoint's sessions connect to, in bundle order. */
  readonly upstreams: McpConfig["upstreams"];
  /** Whether the endpoint shows the upstream's tool (before the caller's scopes decide). */
  showsTool(upstreamId: string, name: string): boolean;
  /** A resource URI as the endpoint shows it. */
  exposeUri(upstreamId: string, uri: string): string;
  /** The upstream resource behind a URI the endpoint showed; undefined for a URI it would not show. */
  resolveUri(uri: string): { readonly upstreamId: string; readonly uri: string } | undefined;
  /** A resource template as the endpoint shows it (its `{var}` parts readable, so clients can expand them). */
  exposeTemplate(upstreamId: string, template: string): string;
  /** The upstream template behind one the endpoint showed (a completion's `ref/resource`). */
  resolveTemplate(template: string): { readonly upstreamId: string; readonly uri: string } | undefined;
  /** What the server tells clients in `instructions`. */
  readonly instructions: string;
}

function uriNaming(naming: ToolNaming, upstreams: McpConfig["upstreams"]) {
  const only = upstreams.length === 1 ? upstreams[0]?.id : undefined;
  if (naming === "upstream" && only !== undefined)
    return {
      exposeUri: (_upstreamId: string, uri: string) => uri,
      resolveUri: (uri: string) => ({ upstreamId: only, uri }),
      exposeTemplate: (_upstreamId: string, template: string) => template,
      resolveTemplate: (template: string) => ({ upstreamId: only, uri: template }),
    };
  const ids = new Set(upstreams.map((u) => u.id));
  const resolveUri = (uri: string) => {
    const target = splitNamespacedUri(uri);
    return target && ids.has(target.upstreamId) ? target : undefined;
  };
  return {
    exposeUri: namespacedUri,
    resolveUri,
    exposeTemplate: (upstreamId: string, template: string) =>
      namespacedUri(upstreamId, template).replace(/%7B/g, "{").replace(/%7D/g, "}"),
    resolveTemplate: (template: string) => resolveUri(template.replace(/\{/g, "%7B").replace(/\}/g, "%7D")),
  };
}

function instructionsFor(naming: ToolNaming, discovery: ToolDiscovery, role: string | undefined): string {
  const names =
    naming === "upstream" ? "Tools keep their upstream server's own names." : "Tools are named {upstream}__{tool}.";
  const shown = role ? `This endpoint serves the role "${role}": only its tools are shown.` : "";
  const listing =
    discovery === "progressive"
      ? "tools/list shows the discovery tools and your working set: search the catalog, then select tools to add them."
      : "Only the tools your scopes allow are listed.";
  return [names, shown, listing].filter(Boolean).join(" ");
}

/** The main MCP path's endpoint. */
function mainEndpoint(mcp: McpConfig): McpEndpoint {
  const upstreams = mcp.upstreams;
  return {
    path: mcp.path,
    role: undefined,
    naming: mcp.toolNames,
    discovery: mcp.discovery,
    upstreams,
    showsTool: () => true,
    ...uriNaming(mcp.toolNames, upstreams),
    instructions: instructionsFor(mcp.toolNames, mcp.discovery, undefined),
  };
}

/** Every role endpoint of the bundle, compiled once at load. */
function roleEndpoints(mcp: McpConfig): McpEndpoint[] {
  return mcp.endpoints.map((config) => {
    const patterns = new Map<string, CompiledPattern[]>();
    for (const entry of config.tools)
      patterns.set(entry.upstream, [...(patterns.get(entry.upstream) ?? []), ...entry.tools.map(compilePattern)]);
    const upstreams = mcp.upstreams.filter((u) => patterns.has(u.id));
    const path = roleEndpointPath(mcp.path, config.role);
    return {
      path,
      role: config.role,
      naming: config.toolNames,
      discovery: config.discovery,
      upstreams,
      showsTool: (upstreamId, name) => patterns.get(upstreamId)?.some((p) => p.regex.test(name)) ?? false,
      ...uriNaming(config.toolNames, upstreams),
      instructions: instructionsFor(config.toolNames, config.discovery, config.role),
    };
  });
}

/** Every endpoint of the bundle's MCP section: the main path first. */
export function mcpEndpoints(bundle: Bundle): McpEndpoint[] {
  const mcp = bundle.mcp;
  return mcp ? [mainEndpoint(mcp), ...roleEndpoints(mcp)] : [];
}
