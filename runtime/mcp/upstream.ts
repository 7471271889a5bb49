/**
 * One connection from one downstream session to one upstream MCP server (stdio child, streamable HTTP, or an
 * OpenAPI upstream the gateway serves itself in memory: ./openapi-upstream.ts).
 * Never shared between sessions. Keeps the upstream's catalog (tools, prompts, resources), and when the
 * upstream fails it is marked degraded (its items disappear from lists) and reconnected with backoff.
 */
import { reportMcpUpstreamHealth, traceHeaders } from "../observability/index.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type ClientCapabilities,
  type LoggingMessageNotification,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { McpUpstream } from "../../policies/bundle/index.js";
import type { SecretReader } from "../http/types.js";
import type { CredentialSource } from "./credentials.js";
import { openApiTransport } from "./openapi-upstream.js";
import type { GatewayMetrics } from "../observability/metrics.js";

export type UpstreamStatus = "connecting" | "ready" | "degraded" | "closed";

/** What an upstream offers, as it named it (not namespaced). */
export interface UpstreamCatalog {
  readonly tools: readonly Tool[];
  readonly prompts: readonly Prompt[];
  readonly resources: readonly Resource[];
  readonly resourceTemplates: readonly ResourceTemplate[];
}

const EMPTY_CATALOG: UpstreamCatalog = { tools: [], prompts: [], resources: [], resourceTemplates: [] };

export interface UpstreamEvents {
  /** The catalog or the status changed (connect, degrade, list_changed): the session re-announces its lists. */
  onCatalogChanged(kinds: ReadonlySet<"tools" | "prompts" | "resources">): void;
  onLog?(params: LoggingMessageNotification["params"]): void;
  onResourceUpdated?(uri: string): void;
}

export interface UpstreamOptions {
  readonly secrets: SecretReader;
  /** How HTTP upstreams are reached (the runtime's pooled client). */
  readonly fetch: FetchLike;
  readonly credentials: CredentialSource;
  /** The session's latest verified user token (for token exchange). */
  readonly userToken: () => string;
  readonly events: UpstreamEvents;
  /** Capabilities declared to the upstream (mirrors what the downstream client supports). */
  readonly capabilities?: ClientCapabilities;
  /** Lets the session install handlers for upstream-initiated requests (sampling, elicitation). */
  readonly configureClient?: (client: Client) => void;
  /** First reconnect delay; doubles up to `maxBackoffMs`. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Health gauge outside a request context (reconnects, untraced requests). */
  readonly metrics?: Pick<GatewayMetrics, "setMcpUpstreamHealth">;
}

/** Errors that mean the upstream is gone rather than that it answered with an error. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof McpError) return error.code === -32000 && /closed/i.test(error.message);
  return error instanceof Error;
}

export class UpstreamConnection {
  public status: UpstreamStatus = "connecting";
  public catalog: UpstreamCatalog = EMPTY_CATALOG;
  private client: Client | undefined;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;

  constructor(
    public readonly config: McpUpstream,
    private readonly options: UpstreamOptions,
  ) {}

  get id(): string {
    return this.config.id;
  }

  /** Connects once; a failure leaves the upstream degraded with a reconnect scheduled. Never rejects. */
  start(): Promise<void> {
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** The connected client, or undefined when the upstream is not ready. */
  ready(): Client | undefined {
    return this.status === "ready" ? this.client : undefined;
  }

  /** Marks the upstream degraded after a failed call and reconnects in the background. */
  markDegraded(): void {
    if (this.status !== "ready") return;
    this.status = "degraded";
    reportMcpUpstreamHealth(this.id, false, this.options.metrics);
    const client = this.client;
    this.client = undefined;
    void client?.close().catch(() => {});
    this.options.events.onCatalogChanged(new Set(["tools", "prompts", "resources"]));
    this.scheduleReconnect();
  }

  async close(): Promise<void> {
    this.status = "closed";
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => {});
  }

  /** A method, not a field test, because `close()` may run while `connect()` awaits. */
  private isClosed(): boolean {
    return this.status === "closed";
  }

  private transport(): Transport {
    const t = this.config.transport;
    if (t.type === "stdio") {
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(t.env))
        env[name] = typeof value === "string" ? value : this.options.secrets.read(value);
      return new StdioClientTransport({
        command: t.command === "node" ? process.execPath : t.command,
        args: t.args,
        env,
        ...(t.cwd ? { cwd: t.cwd } : {}),
        stderr: "ignore",
      });
    }
    const { credentials, userToken, fetch } = this.options;
    if (t.type === "openapi")
      return openApiTransport(t, { fetch, credentials, userToken, timeoutMs: this.config.timeoutMs });
    return new StreamableHTTPClientTransport(new URL(t.url), {
      fetch: async (url, init) => {
        // The SDK builds a fresh Headers per request: add to it rather than copying it (webidl copies cost).
        const headers = init?.headers instanceof Headers ? init.headers : new Headers(init?.headers);
        for (const [name, value] of Object.entries(await credentials(userToken()))) headers.set(name, value);
        for (const [name, value] of Object.entries(traceHeaders<Record<string, string>>({}))) headers.set(name, value);
        return fetch(url, { ...init, headers });
      },
    });
  }

  private async connect(): Promise<void> {
    if (this.status === "closed") return;
    const client = new Client(
      { name: "tollgate-gateway", version: "0.1.0" },
      { capabilities: this.options.capabilities ?? {} },
    );
    this.options.configureClient?.(client);
    const events = this.options.events;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.refresh(client, "tools"));
    client.setNotificationHandler(PromptListChangedNotificationSchema, async () => this.refresh(client, "prompts"));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, async () => this.refresh(client, "resources"));
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => events.onLog?.(n.params));
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) =>
      events.onResourceUpdated?.(n.params.uri),
    );
    client.onclose = () => {
      if (this.client === client) this.markDegraded();
    };
    try {
      await client.connect(this.transport(), { timeout: this.config.timeoutMs });
      const catalog = await loadCatalog(client, this.config.timeoutMs);
      if (this.isClosed()) {
        await client.close();
        return;
      }
      this.client = client;
      this.catalog = catalog;
      this.status = "ready";
      reportMcpUpstreamHealth(this.id, true, this.options.metrics);
      this.attempts = 0;
      events.onCatalogChanged(new Set(["tools", "prompts", "resources"]));
    } catch {
      await client.close().catch(() => {});
      if (this.isClosed()) return;
      this.status = "degraded";
      reportMcpUpstreamHealth(this.id, false, this.options.metrics);
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.status === "closed" || this.reconnectTimer) return;
    const min = this.options.minBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
    this.attempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.start();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async refresh(client: Client, kind: "tools" | "prompts" | "resources"): Promise<void> {
    try {
      const catalog = await loadCatalog(client, this.config.timeoutMs);
      if (this.client !== client) return;
      this.catalog = catalog;
      this.options.events.onCatalogChanged(new Set([kind]));
    } catch (error) {
      if (isConnectionError(error)) this.markDegraded();
    }
  }
}

async function loadCatalog(client: Client, timeout: number): Promise<UpstreamCatalog> {
  const caps = client.getServerCapabilities() ?? {};
  const all = async <T>(
    page: (cursor: string | undefined) => Promise<{ items: T[]; next: string | undefined }>,
  ): Promise<T[]> => {
    const items: T[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const result = await page(cursor);
      items.push(...result.items);
      cursor = result.next;
      if (!cursor) break;
    }
    return items;
  };
  const opts = { timeout };
  const [tools, prompts, resources, resourceTemplates] = await Promise.all([
    caps.tools
      ? all((cursor) => client.listTools({ cursor }, opts).then((r) => ({ items: r.tools, next: r.nextCursor })))
      : [],
    caps.prompts
      ? all((cursor) => client.listPrompts({ cursor }, opts).then((r) => ({ items: r.prompts, next: r.nextCursor })))
      : [],
    caps.resources
      ? all((cursor) =>
          client.listResources({ cursor }, opts).then((r) => ({ items: r.resources, next: r.nextCursor })),
        )
      : [],
    caps.resources
      ? all((cursor) =>
          client
            .listResourceTemplates({ cursor }, opts)
            .then((r) => ({ items: r.resourceTemplates, next: r.nextCursor })),
        ).catch(() => [])
      : [],
  ]);
  return { tools, prompts, resources, resourceTemplates };
}
