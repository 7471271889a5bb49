/**
 * The MCP gateway (runtime part 1). STUB until it lands: answers 501.
 * Contract with the server: the server authenticates, then calls `handle` for every request on the
 * bundle's MCP path (POST, GET, DELETE).
 */
import type { ActiveConfig, HttpHandler, RateLimiter, ToolCallGuard } from "../http/types";
import type { AuditLog } from "../observability/audit";

export interface McpGateway {
  readonly handle: HttpHandler;
  /** Closes every downstream session and its upstream clients. */
  close(): Promise<void>;
}

export interface McpGatewayDeps {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
  readonly toolGuard: ToolCallGuard;
}

export function createMcpGateway(_config: ActiveConfig, _deps: McpGatewayDeps): McpGateway {
  return {
    handle: async (_ctx, _req, res) => {
      res.writeHead(501, { "content-type": "application/json" }).end(JSON.stringify({ error: "MCP gateway not implemented yet" }));
    },
    close: async () => {},
  };
}
