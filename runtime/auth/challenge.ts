/**
 * `WWW-Authenticate: Bearer` challenges (RFC 6750 §3, RFC 9728 §5.1) and the responses that carry them.
 * The MCP gateway uses `insufficientScope` for its 403s; the server uses the 401s.
 */
import type { ServerResponse } from "node:http";
import type { Bundle } from "../../policies/bundle/index.js";

export interface ChallengeParams {
  /** URL of the protected resource metadata document. */
  readonly resourceMetadata: string;
  readonly error?: "invalid_token" | "insufficient_scope" | "invalid_request";
  readonly errorDescription?: string;
  /** Space-separated scopes. */
  readonly scope?: string;
}

/** Quotes a challenge parameter value; strips characters RFC 6750 does not allow in them. */
function quote(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, "").replace(/["\\]/g, "")}"`;
}

/** The header value, e.g. `Bearer error="invalid_token", resource_metadata="https://…"`. */
export function bearerChallenge(params: ChallengeParams): string {
  const parts: string[] = [];
  if (params.error) parts.push(`error=${quote(params.error)}`);
  if (params.errorDescription) parts.push(`error_description=${quote(params.errorDescription)}`);
  parts.push(`resource_metadata=${quote(params.resourceMetadata)}`);
  if (params.scope) parts.push(`scope=${quote(params.scope)}`);
  return `Bearer ${parts.join(", ")}`;
}

/** Well-known path of the protected resource metadata for a resource path (`/mcp` → `/.well-known/oauth-protected-resource/mcp`). */
export function protectedResourceMetadataPath(resourcePath = ""): string {
  const suffix = resourcePath === "/" ? "" : resourcePath;
  return `/.well-known/oauth-protected-resource${suffix}`;
}

/** The path of a role's MCP endpoint: `/mcp` + `ops` → `/mcp/ops`. */
export function roleEndpointPath(mcpPath: string, role: string): string {
  return `${mcpPath}/${role}`;
}

/** The MCP endpoint paths that have a protected resource of their own: the MCP path and each role's. */
export function mcpResourcePaths(bundle: Bundle): string[] {
  const mcp = bundle.mcp;
  return mcp ? [mcp.path, ...mcp.endpoints.map((e) => roleEndpointPath(mcp.path, e.role))] : [];
}

/** `https://gw.example.com/` + `/mcp/ops` → `https://gw.example.com/mcp/ops`. */
export function publicUrlOf(bundle: Bundle, path: string): string {
  return `${bundle.server.publicUrl.replace(/\/+$/, "")}${path}`;
}

/**
 * Absolute URL of the metadata document that describes `pathname`: a role endpoint's own, the MCP path's for
 * anything else under it, the root one for the rest.
 */
export function resourceMetadataUrl(bundle: Bundle, pathname: string): string {
  const mcpPath = bundle.mcp?.path;
  const paths = mcpResourcePaths(bundle);
  const own = paths.includes(pathname) ? pathname : undefined;
  const underMcp = mcpPath !== undefined && pathname.startsWith(`${mcpPath}/`) ? mcpPath : undefined;
  return publicUrlOf(bundle, protectedResourceMetadataPath(own ?? underMcp ?? ""));
}

function sendJson(res: ServerResponse, status: number, challenge: string, body: Record<string, string>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "www-authenticate": challenge,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    "cache-control": "no-store",
  });
  res.end(payload);
}

/** 401 for a request without a token: no error code, the scopes a client may ask for. */
export function sendMissingToken(
  res: ServerResponse,
  resourceMetadata: string,
  scopesSupported: readonly string[],
): void {
  const scope = scopesSupported.join(" ");
  sendJson(res, 401, bearerChallenge({ resourceMetadata, ...(scope ? { scope } : {}) }), {
    error: "unauthorized",
    error_description: "a bearer token is required",
  });
}

/**
 * 401 for a token that failed verification (`invalid_token`) or a request no token can be read from
 * (`invalid_request`). `description` names the check, never the token.
 */
export function sendInvalidToken(
  res: ServerResponse,
  resourceMetadata: string,
  description: string,
  error: "invalid_token" | "invalid_request" = "invalid_token",
): void {
  sendJson(res, 401, bearerChallenge({ resourceMetadata, error, errorDescription: description }), {
    error,
    error_description: description,
  });
}

/** 403 for a known operation the caller lacks scope for; `scopes` lists every scope that would allow it. */
export function sendInsufficientScope(
  res: ServerResponse,
  resourceMetadata: string,
  scopes: readonly string[],
  description: string,
): void {
  sendJson(res, 403, insufficientScopeChallenge(resourceMetadata, scopes), {
    error: "insufficient_scope",
    error_description: description,
  });
}

/** The header value for a 403 `insufficient_scope`. */
export function insufficientScopeChallenge(resourceMetadata: string, scopes: readonly string[]): string {
  return bearerChallenge({ resourceMetadata, error: "insufficient_scope", scope: scopes.join(" ") });
}
