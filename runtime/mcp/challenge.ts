/**
 * The 403 `insufficient_scope` challenge (RFC 6750 §3, MCP authorization spec). Small local helper
 * until runtime/auth exports the shared one.
 */
import type { Bundle } from "../../policies/bundle";

/** RFC 9728 metadata URL for the MCP path: `${publicUrl}/.well-known/oauth-protected-resource${mcpPath}`. */
export function resourceMetadataUrl(bundle: Bundle): string {
  const base = bundle.server.publicUrl.replace(/\/+$/, "");
  return `${base}/.well-known/oauth-protected-resource${bundle.mcp?.path ?? "/mcp"}`;
}

function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** `Bearer error="insufficient_scope", scope="a b", resource_metadata="…"` */
export function insufficientScopeChallenge(scopes: readonly string[], metadataUrl: string): string {
  return `Bearer error="insufficient_scope", scope=${quoted(scopes.join(" "))}, resource_metadata=${quoted(metadataUrl)}`;
}
