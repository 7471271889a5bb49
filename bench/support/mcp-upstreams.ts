/**
 * The MCP upstreams of bench/mcp.ts, in a process of their own (./mcp-upstreams-child.ts) on the load
 * generator's core (a forked child keeps its parent's CPU affinity). In the load generator's own process a direct
 * call never left its event loop: the client's request and the upstream's answer were handled without a single
 * process hand-off, while a call through the gateway made four, so on a busy machine direct measured the
 * machine's queue for a core less than the gateway. An agent and the MCP server it calls are two processes.
 */
import { fork } from "node:child_process";

export interface McpUpstreamUrls {
  /** The web fixture's MCP endpoint (`get_time`). */
  readonly web: string;
  /** The records upstream's MCP endpoint (`get_records`). */
  readonly records: string;
}

export interface McpUpstreams extends McpUpstreamUrls {
  close(): void;
}

export async function startMcpUpstreams(options: { readonly piiFraction: number }): Promise<McpUpstreams> {
  const child = fork(new URL("./mcp-upstreams-child.ts", import.meta.url).pathname, [String(options.piiFraction)]);
  const urls = await new Promise<McpUpstreamUrls>((resolve, reject) => {
    child.once("message", (m: McpUpstreamUrls) => resolve(m));
    child.once("exit", (code) => reject(new Error(`MCP upstreams process exited ${code}`)));
  });
  return { ...urls, close: () => void child.send({ type: "exit" }) };
}
