/**
 * Fixtures for the MCP gateway tests: a small streamable-HTTP MCP upstream built on the SDK's McpServer,
 * the command line of the real `@modelcontextprotocol/server-memory` (stdio), and a bundle wiring both.
 * Every server binds 127.0.0.1 on an ephemeral port.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { type Bundle, type BundleInput, RuntimeBundleSchema } from "../../policies/bundle/index.js";
import { mcpSessionHandler } from "../support/mcp-session-http.js";

const require = createRequire(import.meta.url);

/** Path of the real server-memory entry point (spawned with the gateway's Node). */
export const SERVER_MEMORY_ENTRY = require.resolve("@modelcontextprotocol/server-memory/dist/index.js");

export interface HttpUpstream {
  readonly url: string;
  /** `authorization` header of every request the upstream received, in order. */
  readonly authorizations: (string | undefined)[];
  /** Every header of every request the upstream received, in order. */
  readonly requestHeaders: IncomingMessage["headers"][];
  /** Resolves with the count reached when a `count_slowly` call is next cancelled (its AbortSignal fired). */
  nextCancellation(): Promise<number>;
  /** Registers one more tool and announces it (notifications/tools/list_changed) on every session. */
  addTool(name: string): void;
  close(): Promise<void>;
}

export async function listen(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * A streamable-HTTP upstream ("web") with tools: `get_time` (read), `set_value` (write), `count_slowly`
 * (reports progress, honours cancellation), `drop_table` (destructive), `whoami` (echoes the bearer token it
 * received, so a test can inspect what the gateway sent).
 */
export async function startHttpUpstream(opts: { port?: number } = {}): Promise<HttpUpstream> {
  const authorizations: (string | undefined)[] = [];
  const requestHeaders: IncomingMessage["headers"][] = [];
  const extraTools: string[] = [];
  const cancellationWaiters: ((count: number) => void)[] = [];

  const build = (): McpServer => {
    const server = new McpServer(
      { name: "web-fixture", version: "1.0.0" },
      { capabilities: { tools: { listChanged: true } } },
    );
    server.registerTool("get_time", { description: "Current time", inputSchema: {} }, async () => ({
      content: [{ type: "text", text: new Date(0).toISOString() }],
    }));
    server.registerTool(
      "set_value",
      { description: "Stores a value", inputSchema: { value: z.string() } },
      async ({ value }) => ({
        content: [{ type: "text", text: `stored ${value}` }],
      }),
    );
    server.registerTool("drop_table", { description: "Destructive", inputSchema: {} }, async () => ({
      content: [{ type: "text", text: "dropped" }],
    }));
    server.registerTool(
      "whoami",
      { description: "Echoes the bearer token it received", inputSchema: {} },
      async (_args, extra) => {
        const header = extra.requestInfo?.headers.authorization;
        return { content: [{ type: "text", text: typeof header === "string" ? header.replace(/^Bearer /, "") : "" }] };
      },
    );
    server.registerTool(
      "count_slowly",
      { description: "Counts to n, reporting progress", inputSchema: { n: z.number().int().min(1).max(50) } },
      async ({ n }, extra) => {
        const token = extra._meta?.progressToken;
        for (let i = 1; i <= n; i++) {
          if (extra.signal.aborted) {
            for (const waiter of cancellationWaiters.splice(0)) waiter(i);
            return { content: [{ type: "text", text: `cancelled at ${i}` }], isError: true };
          }
          if (token !== undefined)
            await extra.sendNotification({
              method: "notifications/progress",
              params: { progressToken: token, progress: i, total: n },
            });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return { content: [{ type: "text", text: `counted to ${n}` }] };
      },
    );
    for (const name of extraTools)
      server.registerTool(name, { inputSchema: {} }, async () => ({ content: [{ type: "text", text: name }] }));
    return server;
  };

  const sessionHandler = mcpSessionHandler(build);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    requestHeaders.push(req.headers);
    return sessionHandler.handle(req, res);
  };
  const http = createServer((req, res) => void handler(req, res).catch(() => res.writeHead(500).end()));
  const url = `${await listen(http, opts.port)}/mcp`;
  return {
    url,
    authorizations,
    requestHeaders,
    nextCancellation: () => new Promise<number>((resolve) => cancellationWaiters.push(resolve)),
    addTool: (name) => {
      extraTools.push(name);
      for (const { server } of sessionHandler.sessions.values()) {
        server.registerTool(name, { inputSchema: {} }, async () => ({ content: [{ type: "text", text: name }] }));
      }
    },
    close: async () => {
      await sessionHandler.closeAll();
      await closeServer(http);
    },
  };
}

/** Bundle with the real server-memory (stdio, "memory") and the HTTP fixture ("web"). */
export function gatewayBundle(opts: {
  webUrl: string;
  memoryFile: string;
  issuer?: string;
  publicUrl?: string;
  upstreams?: NonNullable<BundleInput["mcp"]>["upstreams"];
}): Bundle {
  const publicUrl = opts.publicUrl ?? "http://127.0.0.1:1";
  const issuer = opts.issuer ?? "http://127.0.0.1:2";
  const input: BundleInput = {
    apiVersion: "tollgate.dev/v1alpha1",
    kind: "GatewayBundle",
    metadata: { environment: "dev", stack: "test", gateway: "gateway" },
    server: { publicUrl },
    auth: { issuer, audiences: [publicUrl] },
    protectedResource: {
      resource: `${publicUrl}/mcp`,
      authorizationServers: [issuer],
      scopesSupported: ["mcp:read", "mcp:write", "mcp:admin"],
    },
    mcp: {
      path: "/mcp",
      policy: "default",
      upstreams: opts.upstreams ?? [
        {
          id: "memory",
          transport: {
            type: "stdio",
            command: "node",
            args: [SERVER_MEMORY_ENTRY],
            env: { MEMORY_FILE_PATH: opts.memoryFile },
          },
        },
        { id: "web", transport: { type: "streamable-http", url: opts.webUrl } },
      ],
      grants: [
        { scope: "mcp:read", upstream: "memory", tools: ["read_graph", "search_nodes", "open_nodes"] },
        { scope: "mcp:write", upstream: "memory", tools: ["create_*", "add_*"] },
        { scope: "mcp:admin", upstream: "memory", tools: ["*"] },
        { scope: "mcp:read", upstream: "web", tools: ["get_*", "count_*", "whoami", "new_*"] },
        { scope: "mcp:write", upstream: "web", tools: ["set_*"] },
        { scope: "mcp:admin", upstream: "web", tools: ["*"] },
      ],
      alwaysBlocked: [{ upstream: "*", tools: ["*delete*", "drop_*"], reason: "destructive" }],
    },
    guardPolicies: [{ id: "default" }],
  };
  return RuntimeBundleSchema.parse(input);
}

/**
 * Waits, event-driven, until the client's tool list satisfies `predicate`: lists again after every
 * notifications/tools/list_changed, and never misses one that arrives while a list request is in flight.
 */
export function toolListWatcher(client: Client): {
  until(predicate: (names: string[]) => boolean): Promise<string[]>;
  readonly notifications: number;
} {
  let count = 0;
  let wake: (() => void) | undefined;
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    count += 1;
    wake?.();
  });
  return {
    get notifications() {
      return count;
    },
    async until(predicate) {
      for (;;) {
        const seen = count;
        const names = (await client.listTools()).tools.map((t) => t.name);
        if (predicate(names)) return names;
        if (count === seen) await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
