/**
 * The streamable-HTTP session plumbing of a test MCP upstream: one server and transport per session,
 * 404 for an unknown session id, sessions forgotten when their transport closes.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

interface Connectable {
  connect(transport: StreamableHTTPServerTransport): Promise<void>;
  close(): Promise<void>;
}

export interface McpSessionHandler<S extends Connectable> {
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Servers of the open sessions. */
  readonly sessions: ReadonlyMap<string, { readonly server: S }>;
  closeAll(): Promise<void>;
}

export function mcpSessionHandler<S extends Connectable>(build: () => S): McpSessionHandler<S> {
  const sessions = new Map<string, { server: S; transport: StreamableHTTPServerTransport }>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const id = req.headers["mcp-session-id"];
    const existing = typeof id === "string" ? sessions.get(id) : undefined;
    if (existing) return existing.transport.handleRequest(req, res);
    if (typeof id === "string") {
      res.writeHead(404).end();
      return;
    }
    const server = build();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, { server, transport }),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
  return {
    handle,
    sessions,
    closeAll: async () => {
      await Promise.all([...sessions.values()].map((s) => s.server.close().catch(() => {})));
    },
  };
}
