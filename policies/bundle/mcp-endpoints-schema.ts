/**
 * How the MCP catalog is shown: the main MCP path's naming and discovery, and per-role endpoints
 * (`<mcp.path>/<role>`), each a virtual MCP server that shows only its role's tools. An endpoint narrows
 * what is shown and callable on it; it never widens what the caller's scopes allow (grants, deny rules
 * and the always-blocked list decide first, everywhere).
 */
import { z } from "zod";
import { TOOL_PATTERN, id, text } from "./fields.js";

/** `namespaced`: `<upstream>__<tool>` (and `tollgate://<upstream>/…` resources); `upstream`: the upstream's own names. */
export const TOOL_NAMING = ["namespaced", "upstream"] as const;
export type ToolNaming = (typeof TOOL_NAMING)[number];

/** `all`: `tools/list` shows every allowed tool; `progressive`: meta-tools to search and select a working set. */
export const TOOL_DISCOVERY = ["all", "progressive"] as const;
export type ToolDiscovery = (typeof TOOL_DISCOVERY)[number];

/** The catalog settings of the main MCP path, and the role endpoints. Spread into the `mcp` object. */
export function mcpCatalogFields() {
  const toolPatterns = z
    .array(text().regex(TOOL_PATTERN, { error: "expected a tool name or a pattern with * wildcards" }))
    .min(1);
  const Endpoint = z.strictObject({
    /** The role the endpoint serves; its path is `<mcp.path>/<role>`. */
    role: id(),
    /** The role's tools: patterns per upstream (the upstream's own names). Only these are listed and callable. */
    tools: z
      .array(z.strictObject({ upstream: id(), tools: toolPatterns }))
      .min(1, { error: "an endpoint needs at least one { upstream, tools } entry" }),
    /** Tool, prompt and resource names on this endpoint. `upstream` needs a single upstream in `tools`. */
    toolNames: z.enum(TOOL_NAMING).default("namespaced"),
    /** How the endpoint's tools are listed. */
    discovery: z.enum(TOOL_DISCOVERY).default("all"),
  });
  return {
    /** Names on the main MCP path. `upstream` needs a single upstream in `mcp.upstreams`. */
    toolNames: z.enum(TOOL_NAMING).default("namespaced"),
    /** How the main MCP path lists tools. */
    discovery: z.enum(TOOL_DISCOVERY).default("all"),
    /** Per-role endpoints, each served at `<mcp.path>/<role>` with its own protected resource metadata. */
    endpoints: z.array(Endpoint).default([]),
  };
}

interface CatalogShape {
  path?: string;
  upstreams?: { id: string }[];
  toolNames?: string;
  endpoints?: { role: string; tools: { upstream: string }[]; toolNames?: string }[];
}

type Issue = (path: (string | number)[], message: string) => void;

/** Cross-references of the catalog fields: roles unique, upstreams known, own names only where they cannot collide. */
export function checkMcpCatalog(mcp: CatalogShape, issue: Issue): void {
  const known = new Set((mcp.upstreams ?? []).map((u) => u.id));
  const mcpPath = mcp.path ?? "/mcp";
  if (mcp.toolNames === "upstream" && known.size > 1)
    issue(
      ["mcp", "toolNames"],
      `"upstream" shows each upstream's own tool names, so it needs a single upstream, found ${known.size} (${[...known].join(", ")}) whose names could collide: set toolNames "namespaced", or add an endpoint per upstream (mcp.endpoints[].toolNames "upstream")`,
    );
  const roles = new Set<string>();
  (mcp.endpoints ?? []).forEach((endpoint, i) => {
    if (roles.has(endpoint.role)) issue(["mcp", "endpoints", i, "role"], `duplicate role "${endpoint.role}"`);
    roles.add(endpoint.role);
    endpoint.tools.forEach((entry, j) => {
      if (!known.has(entry.upstream))
        issue(
          ["mcp", "endpoints", i, "tools", j, "upstream"],
          `unknown upstream "${entry.upstream}"${known.size > 0 ? ` (the upstreams: ${[...known].join(", ")})` : ", and the bundle has none"}`,
        );
    });
    const upstreams = [...new Set(endpoint.tools.map((t) => t.upstream))];
    if (endpoint.toolNames === "upstream" && upstreams.length > 1)
      issue(
        ["mcp", "endpoints", i, "toolNames"],
        `"upstream" shows each upstream's own tool names, so the endpoint ${mcpPath}/${endpoint.role} needs tools of a single upstream, found ${upstreams.length} (${upstreams.join(", ")}) whose names could collide: set toolNames "namespaced", or split the role into one endpoint per upstream`,
      );
  });
}
