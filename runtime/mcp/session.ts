/**
 * One downstream MCP session: its own SDK `Server`, its own streamable-HTTP transport and its own
 * upstream clients, bound to the (issuer, subject, client) that initialized it. Nothing here is shared
 * with another session, so one user's upstream state, request ids or notifications never reach another.
 *
 * Its SDK handlers (./session-handlers.ts) re-check every decision the policy gate made before the
 * transport, with the scopes of the request being handled.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { type EventStore, StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  McpError,
  type ClientCapabilities,
  type InitializeRequest,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type CompiledToolPolicy, NameTable } from "../../policies/tools/index.js";
import type { GuardedContent, Principal, RequestContext, ToolCallGuard } from "../http/types.js";
import { POLICY_REFUSED } from "./jsonrpc.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { type TokenCache, credentialSource } from "./credentials.js";
import type { McpEndpoint } from "./endpoint.js";
import { installHandlers } from "./session-handlers.js";
import { type SessionBinding, bindingOf } from "./binding.js";
import type { SessionRecord } from "./session-records.js";
import { UpstreamConnection, isConnectionError } from "./upstream.js";

export interface WebStandardTransport {
  handleRequest(request: Request, options: { parsedBody: unknown; authInfo?: AuthInfo }): Promise<Response>;
}

export interface SessionOptions {
  readonly policy: CompiledToolPolicy;
  /** The endpoint the session was opened on: which upstreams, tools and names it shows. */
  readonly endpoint: McpEndpoint;
  readonly ctx: RequestContext;
  readonly toolGuard: ToolCallGuard;
  readonly tokenCache: TokenCache;
  /** How HTTP upstreams are reached (the runtime's pooled client). */
  readonly fetch: FetchLike;
  /** What the downstream client declared in `initialize` (mirrored to the upstreams). */
  readonly clientCapabilities: ClientCapabilities;
  /** The id of a session another replica (or an earlier runtime) opened: this one resumes it. */
  readonly resumeId?: string;
  /**
   * Answer each request with one JSON body instead of an SSE stream (the stateless set, ./stateless.ts:
   * its answers are reshaped before they reach the client, and it has no client stream to notify).
   */
  readonly jsonResponse?: boolean;
  /** Where the session's SSE events are kept for clients that resume with `Last-Event-ID` (./session-events.ts). */
  readonly streamEvents?: (sessionId: string) => EventStore;
  readonly onClosed: (session: McpSession) => void;
  /** A new session got its id, before the client gets the initialize answer (so its record exists by then). */
  readonly onInitialized?: (session: McpSession) => Promise<void>;
  /** Progressive discovery: the working set changed (the registry keeps it in the session's record). */
  readonly onWorkingSetChanged?: (session: McpSession) => Promise<void>;
  /** Upstream reconnect backoff (tests shorten it). */
  readonly minBackoffMs?: number;
  /**
   * Longest time a request waits for the upstreams' first connection attempts.
   * @default 5000
   */
  readonly startWaitMs?: number;
  /** Upstream latency and health for untraced requests (they run outside the request context). */
  readonly metrics?: Pick<GatewayMetrics, "observeUpstream" | "setMcpUpstreamHealth">;
}

/** How long a client that lost an SSE stream waits before reconnecting with `Last-Event-ID`. */
const RESUME_RETRY_MS = 1000;

export class McpSession {
  public readonly binding: SessionBinding;
  public readonly transport: StreamableHTTPServerTransport;
  public readonly server: Server;
  public readonly upstreams: readonly UpstreamConnection[];
  /** Resolves once every upstream made its first connection attempt (successful or not), or after `startWaitMs`. */
  public readonly ready: Promise<void>;
  /** True once `ready` resolved: requests then skip awaiting it (one promise less per request). */
  public started = false;
  public lastSeen = Date.now();
  /** What the client sent in `initialize`, for the session's record (a session this replica opened). */
  public initializeParams: Partial<InitializeRequest["params"]> | undefined;
  public tools = new NameTable([]);
  public prompts = new NameTable([]);
  /** Progressive discovery: the exposed names the client selected (./discovery.ts). */
  public readonly workingSet = new Set<string>();
  private userToken: string;
  private closed = false;
  /** Downstream tools/call request ids in flight per upstream: where upstream sampling/elicitation goes. */
  readonly inFlight = new Map<string, RequestId[]>();

  constructor(private readonly options: SessionOptions) {
    const { ctx } = options;
    this.binding = bindingOf(ctx.principal);
    this.userToken = ctx.principal.token;
    this.server = new Server(
      { name: "tollgate", version: "0.1.0" },
      {
        capabilities: {
          tools: { listChanged: true },
          prompts: { listChanged: true },
          resources: { listChanged: true, subscribe: true },
          logging: {},
          completions: {},
        },
        instructions: options.endpoint.instructions,
      },
    );
    const id = options.resumeId ?? randomUUID();
    const onInitialized = options.onInitialized;
    this.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      ...(options.jsonResponse ? { enableJsonResponse: true } : {}),
      // The priming event's `retry` tells a client that lost the stream how soon to come back for the rest.
      ...(options.streamEvents ? { eventStore: options.streamEvents(id), retryInterval: RESUME_RETRY_MS } : {}),
      ...(onInitialized ? { onsessioninitialized: () => onInitialized(this) } : {}),
    });
    this.transport.onclose = () => void this.close();
    const upstreamCaps: ClientCapabilities = {};
    if (options.clientCapabilities.sampling) upstreamCaps.sampling = options.clientCapabilities.sampling;
    if (options.clientCapabilities.elicitation) upstreamCaps.elicitation = options.clientCapabilities.elicitation;
    const endpoint = options.endpoint;
    this.upstreams = endpoint.upstreams.map(
      (config) =>
        new UpstreamConnection(config, {
          secrets: ctx.config.secrets,
          fetch: options.fetch,
          credentials: credentialSource(config.id, config.credentials, ctx.config.secrets, options.tokenCache),
          userToken: () => this.userToken,
          capabilities: upstreamCaps,
          configureClient: (client) => this.forwardUpstreamRequests(config.id, client),
          ...(options.minBackoffMs !== undefined ? { minBackoffMs: options.minBackoffMs } : {}),
          ...(options.metrics ? { metrics: options.metrics } : {}),
          events: {
            onCatalogChanged: (kinds) => this.catalogChanged(kinds),
            onLog: (params) =>
              void this.server
                .sendLoggingMessage({ ...params, logger: `${config.id}${params.logger ? `/${params.logger}` : ""}` })
                .catch(() => {}),
            onResourceUpdated: (uri) =>
              void this.server.sendResourceUpdated({ uri: endpoint.exposeUri(config.id, uri) }).catch(() => {}),
          },
        }),
    );
    // Requests wait for the upstreams' first connection attempts, but never longer than `startWaitMs`: a slow
    // upstream joins later and is announced with list_changed, it does not hold the others' tools back.
    const started = Promise.all(this.upstreams.map((u) => u.start())).then(() => undefined);
    const waitMs = options.startWaitMs ?? 5_000;
    this.ready = Promise.race([started, new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref())]).then(
      () => {
        this.started = true;
      },
    );
    installHandlers(this, options);
  }

  /** Progressive discovery changed the working set: kept in the record, so a resumed session keeps it too. */
  workingSetChanged(): Promise<void> {
    return this.options.onWorkingSetChanged?.(this) ?? Promise.resolve();
  }

  get endpoint(): McpEndpoint {
    return this.options.endpoint;
  }

  get sessionId(): string | undefined {
    return this.transport.sessionId;
  }

  /**
   * Makes this session the one `record` describes, without the client: the initialize the client sent to the
   * replica that opened it is replayed into this session's own transport, so its SDK server knows the
   * client's capabilities and version and its transport accepts the session id. The replayed answer is
   * dropped (the client had its answer).
   */
  async resume(record: SessionRecord): Promise<void> {
    await this.server.connect(this.transport);
    const inner = this.webTransport();
    const initialize = {
      jsonrpc: "2.0",
      id: "tollgate-resume",
      method: "initialize",
      params: {
        protocolVersion: record.protocolVersion,
        capabilities: record.clientCapabilities,
        clientInfo: record.clientInfo,
      },
    };
    const response = await inner.handleRequest(
      new Request("http://tollgate.invalid/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify(initialize),
      }),
      { parsedBody: initialize },
    );
    await response.text();
    if (this.sessionId !== this.options.resumeId || !this.server.getClientCapabilities())
      throw new Error(`session ${this.options.resumeId} could not be resumed (status ${response.status})`);
  }

  /**
   * The web-standard transport the Node transport wraps: a request built by the gateway itself (a replayed
   * initialize, a stateless request) goes through it as a web Request.
   */
  webTransport(): WebStandardTransport {
    const inner = (this.transport as unknown as { _webStandardTransport?: WebStandardTransport })._webStandardTransport;
    if (!inner) throw new Error("this MCP SDK version has no web-standard transport inside its Node transport");
    return inner;
  }

  /** Called for every request on this session, after the binding check: keeps the freshest verified token. */
  touch(principal: Principal): void {
    this.userToken = principal.token;
    this.lastSeen = Date.now();
  }

  upstream(id: string): UpstreamConnection | undefined {
    return this.upstreams.find((u) => u.id === id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.server.close().catch(() => {});
    this.options.onClosed(this);
  }

  private rebuildTables(): void {
    const ready = this.upstreams.filter((u) => u.status === "ready");
    const { endpoint } = this.options;
    this.tools = new NameTable(
      ready.map((u) => ({
        upstreamId: u.id,
        names: u.catalog.tools.map((t) => t.name).filter((name) => endpoint.showsTool(u.id, name)),
      })),
      endpoint.naming,
    );
    this.prompts = new NameTable(
      ready.map((u) => ({ upstreamId: u.id, names: u.catalog.prompts.map((p) => p.name) })),
      endpoint.naming,
    );
  }

  private catalogChanged(kinds: ReadonlySet<"tools" | "prompts" | "resources">): void {
    this.rebuildTables();
    // Before initialization completes there is nobody to tell; the first list reflects the change.
    if (!this.server.getClientCapabilities()) return;
    if (kinds.has("tools")) void this.server.sendToolListChanged().catch(() => {});
    if (kinds.has("prompts")) void this.server.sendPromptListChanged().catch(() => {});
    if (kinds.has("resources")) void this.server.sendResourceListChanged().catch(() => {});
  }

  /** Upstream sampling/elicitation requests go to the downstream client, on the stream of the call that caused them. */
  private forwardUpstreamRequests(upstreamId: string, client: Client): void {
    const related = (): { relatedRequestId: RequestId } | Record<string, never> => {
      const ids = this.inFlight.get(upstreamId);
      const last = ids?.[ids.length - 1];
      return last !== undefined ? { relatedRequestId: last } : {};
    };
    const caps = this.options.clientCapabilities;
    if (caps.sampling) {
      // What an upstream asks the client's model is guarded on the way out, and the model's answer on the way back
      // to the upstream, with the MCP guard policy, like a tool's result and arguments.
      const guard = async <T>(content: GuardedContent, value: T): Promise<T> => {
        const outcome = await this.options.toolGuard.guardContent(this.options.ctx, upstreamId, content, value);
        if (outcome.action === "block")
          throw new McpError(POLICY_REFUSED, `${content} withheld by guard: ${outcome.guard}`);
        return outcome.value as T;
      };
      client.setRequestHandler(CreateMessageRequestSchema, async (request, extra) => {
        const params = await guard("sampling request", request.params);
        const result = await this.server.createMessage(params, { signal: extra.signal, ...related() });
        return guard("sampling result", result);
      });
    }
    if (caps.elicitation) {
      client.setRequestHandler(ElicitRequestSchema, async (request, extra) =>
        this.server.elicitInput(request.params, { signal: extra.signal, ...related() }),
      );
    }
  }

  private readyClient(upstreamId: string): Client {
    const client = this.upstream(upstreamId)?.ready();
    if (!client) throw new McpError(ErrorCode.InternalError, `upstream "${upstreamId}" is unavailable`);
    return client;
  }

  /** Calls a ready upstream; a connection failure marks it degraded and answers "unavailable". */
  async callUpstream<T>(upstreamId: string, call: (client: Client) => Promise<T>): Promise<T> {
    const client = this.readyClient(upstreamId);
    try {
      return await call(client);
    } catch (error) {
      if (!(error instanceof McpError) && isConnectionError(error)) {
        this.upstream(upstreamId)?.markDegraded();
        throw new McpError(ErrorCode.InternalError, `upstream "${upstreamId}" is unavailable`);
      }
      throw error;
    }
  }
}
