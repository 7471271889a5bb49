/**
 * RFC 9728 protected resource metadata, built once per bundle, and where it is served.
 */
import type { Bundle } from "../../policies/bundle/index.js";
import { protectedResourceMetadataPath, publicUrlOf, roleEndpointPath } from "./challenge.js";

export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

/**
 * The documents the gateway serves, by path: the bundle's protected resource at the root and at the MCP path,
 * and one per role endpoint (`/.well-known/oauth-protected-resource/mcp/<role>`) whose `resource` is that
 * endpoint's URL.
 */
export function protectedResourceMetadataByPath(bundle: Bundle): ReadonlyMap<string, ProtectedResourceMetadata> {
  const pr = bundle.protectedResource;
  const document = (resource: string): ProtectedResourceMetadata => ({
    resource,
    authorization_servers: pr.authorizationServers,
    scopes_supported: pr.scopesSupported,
    bearer_methods_supported: ["header"],
    ...(pr.resourceName ? { resource_name: pr.resourceName } : {}),
    ...(pr.resourceDocumentation ? { resource_documentation: pr.resourceDocumentation } : {}),
  });
  const main = document(pr.resource);
  const byPath = new Map([[protectedResourceMetadataPath(), main]]);
  const mcp = bundle.mcp;
  if (mcp) {
    byPath.set(protectedResourceMetadataPath(mcp.path), main);
    for (const endpoint of mcp.endpoints) {
      const path = roleEndpointPath(mcp.path, endpoint.role);
      byPath.set(protectedResourceMetadataPath(path), document(publicUrlOf(bundle, path)));
    }
  }
  return byPath;
}
