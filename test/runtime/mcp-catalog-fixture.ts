/**
 * A large MCP upstream for progressive discovery: a real SDK McpServer over streamable HTTP with `count` tools
 * named `<domain>_<verb>_<n>` (domains contact, invoice, ticket, order, report; verbs get, list, update,
 * export, delete), each answering with its own name. Binds 127.0.0.1 on an ephemeral port.
 */
import { createServer } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { mcpSessionHandler } from "../support/mcp-session-http.js";
import { closeServer, listen } from "./mcp-fixtures.js";

const DOMAINS = ["contact", "invoice", "ticket", "order", "report"] as const;
const VERBS = ["get", "list", "update", "export", "delete"] as const;

/** The name and description of the catalog's `i`-th tool. */
export function catalogTool(i: number): { name: string; description: string } {
  const domain = DOMAINS[i % DOMAINS.length] ?? "contact";
  const verb = VERBS[Math.floor(i / DOMAINS.length) % VERBS.length] ?? "get";
  const n = String(i).padStart(3, "0");
  return { name: `${domain}_${verb}_${n}`, description: `${verb} ${domain} records (variant ${n})` };
}

export interface CatalogUpstream {
  readonly url: string;
  readonly names: readonly string[];
  close(): Promise<void>;
}

export async function startCatalogUpstream(count: number): Promise<CatalogUpstream> {
  const tools = Array.from({ length: count }, (_, i) => catalogTool(i));
  const sessions = mcpSessionHandler(() => {
    const server = new McpServer({ name: "catalog-fixture", version: "1.0.0" });
    for (const tool of tools)
      server.registerTool(tool.name, { description: tool.description, inputSchema: {} }, async () => ({
        content: [{ type: "text", text: `ran ${tool.name}` }],
      }));
    return server;
  });
  const http = createServer((req, res) => void sessions.handle(req, res));
  const url = `${await listen(http)}/mcp`;
  return {
    url,
    names: tools.map((t) => t.name),
    close: async () => {
      await sessions.closeAll();
      await closeServer(http);
    },
  };
}
