/**
 * RFC 9728 protected resource metadata, built once per bundle, and where it is served.
 */
import type { Bundle } from "../../policies/bundle/index.js";
import { protectedResourceMetadataPath } from "./challenge.js";

export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

export function protectedResourceMetadata(bundle: Bundle): ProtectedResourceMetadata {
  const pr = bundle.protectedResource;
  return {
    resource: pr.resource,
    authorization_servers: pr.authorizationServers,
    scopes_supported: pr.scopesSupported,
    bearer_methods_supported: ["header"],
    ...(pr.resourceName ? { resource_name: pr.resourceName } : {}),
    ...(pr.resourceDocumentation ? { resource_documentation: pr.resourceDocumentation } : {}),
  };
}

/** The paths the document is served at: the root one and the MCP path's one. */
export function protectedResourceMetadataPaths(bundle: Bundle): ReadonlySet<string> {
  const paths = new Set([protectedResourceMetadataPath()]);
  if (bundle.mcp) paths.add(protectedResourceMetadataPath(bundle.mcp.path));
  return paths;
}
