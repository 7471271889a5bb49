/**
 * Downstream MCP helpers for end-to-end tests: the official SDK client connected with a bearer token, and raw
 * streamable-HTTP POSTs (to look at status codes, challenges and SSE bodies the SDK client hides).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mcpHeaders } from "./gateway.js";

/** An SDK client connected to `url` with `token`; kept in `opened` so the test's teardown closes it. */
export async function connectMcpClient(
  url: string,
  token: string,
  opened: Client[],
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(transport);
  opened.push(client);
  return { client, transport };
}

/** A 2025-era POST of `body` (one message or a batch) on a session, or without one. */
export function postMcp(url: string, token: string, sessionId: string | undefined, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      ...mcpHeaders(token),
      "mcp-protocol-version": "2025-11-25",
      ...(sessionId ? { "mcp-session-id": sessionId } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** A `tools/call` request message. */
export const toolCall = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});
