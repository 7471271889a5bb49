/**
 * The MCP upstream of the agent workload: a streamable-HTTP server (the SDK's McpServer) with one tool,
 * `get_records`, whose JSON result of several KB (records with notes, PII in a fraction of them) is
 * derived from the call's query (bench/workload/agent.ts), so every target gets the same answer to the
 * same call. Binds 127.0.0.1 on an ephemeral port.
 */
import { createServer } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { closeServer, listen } from "../../test/runtime/mcp-fixtures.js";
import { mcpSessionHandler } from "../../test/support/mcp-session-http.js";
import { seedOf, toolResult } from "../workload/agent.js";

/** Size of a `get_records` result. */
export const RECORDS_RESULT_BYTES = { minBytes: 2048, maxBytes: 8192 } as const;

export interface RecordsUpstream {
  /** The MCP endpoint. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startRecordsUpstream(options: { readonly piiFraction: number }): Promise<RecordsUpstream> {
  const build = () => {
    const server = new McpServer({ name: "records", version: "1.0.0" });
    server.registerTool(
      "get_records",
      {
        description: "Search support records",
        inputSchema: { query: z.string(), customer_id: z.string(), limit: z.number().int() },
      },
      async ({ query }) => ({
        content: [
          {
            type: "text",
            text: toolResult(seedOf(query), { piiFraction: options.piiFraction, ...RECORDS_RESULT_BYTES }).text,
          },
        ],
      }),
    );
    return server;
  };
  const sessions = mcpSessionHandler(build);
  const http = createServer((req, res) => void sessions.handle(req, res).catch(() => res.writeHead(500).end()));
  const url = `${await listen(http)}/mcp`;
  return {
    url,
    close: async () => {
      await sessions.closeAll();
      await closeServer(http);
    },
  };
}
