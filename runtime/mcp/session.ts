/**
 * One downstream MCP session: its own SDK `Server`, its own streamable-HTTP transport and its own
 * upstream clients, bound to the (issuer, subject, client) that initialized it. Nothing here is shared
 * with another session, so one user's upstream state, request ids or notifications never reach another.
 *
 * The handlers re-check every decision (the policy gate already checked before the transport): the same
 * pure `policies/tools` functions, with the scopes of the request being handled.
 */
import { ATTR, span, tracingActive, upstreamCall } from "../observability/index.js";
import { randomUUID } from "node:crypto";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ClientCapabilities,
  type RequestId,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { Bundle } from "../../policies/bundle/index.js";
import {
  type CompiledToolPolicy,
  NameTable,
  type NamedItem,
  decideTool,
  decideUpstreamItem,
  namespacedUri,
  splitNamespacedUri,
} from "../../policies/tools/index.js";
import { type Principal, type RequestContext, type ToolCallGuard, passThroughToolGuard } from "../http/types.js";
import { type TokenCache, credentialSource } from "./credentials.js";
import { UpstreamConnection, isConnectionError } from "./upstream.js";
import type { GatewayMetrics } from "../observability/metrics.js";

/** Who a session belongs to. A request whose verified principal differs is refused. */
export interface SessionBinding {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | undefined;
}

export function bindingOf(principal: Principal): SessionBinding {
  return { issuer: principal.issuer, subject: principal.subject, clientId: principal.clientId };
}

export function sameBinding(a: SessionBinding, b: SessionBinding): boolean {
  return a.issuer === b.issuer && a.subject === b.subject && a.clientId === b.clientId;
}

export interface SessionOptions {
  readonly bundle: Bundle;
  readonly policy: CompiledToolPolicy;
  readonly ctx: RequestContext;
  readonly toolGuard: ToolCallGuard;
  readonly tokenCache: TokenCache;
  /** What the downstream client declared in `initialize` (mirrored to the upstreams). */
  readonly clientCapabilities: ClientCapabilities;
  readonly onClosed: (session: McpSession) => void;
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

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The request context the gateway attached to the HTTP request (see `index.ts`). */
export function contextOf(extra: Extra): RequestContext {
  const ctx = extra.authInfo?.extra?.ctx as RequestContext | undefined;
  if (!ctx) throw new McpError(ErrorCode.InternalError, "request context missing");
  return ctx;
}

/** One audit event for an allowed prompt or resource read (tool calls record theirs with latency). */
function recordAllow(ctx: RequestContext, method: string, name: string, upstream: string, scope: string): void {
  ctx.audit.record({
    kind: "mcp",
    decision: "allow",
    method,
    tool: name,
    upstream,
    rule: `scope: ${scope}`,
    principal: ctx.principal.subject,
    client: ctx.principal.clientId,
    requestId: ctx.requestId,
    traceId: ctx.traceId,
  });
}

/** Resource-template URIs keep their `{var}` parts readable so clients can still expand them. */
function namespacedTemplate(upstreamId: string, template: string): string {
  return namespacedUri(upstreamId, template).replace(/%7B/g, "{").replace(/%7D/g, "}");
}

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
  public tools = new NameTable([]);
  public prompts = new NameTable([]);
  private userToken: string;
  private closed = false;
  /** Downstream tools/call request ids in flight per upstream: where upstream sampling/elicitation goes. */
  private readonly inFlight = new Map<string, RequestId[]>();

  constructor(private readonly options: SessionOptions) {
    const { bundle, ctx } = options;
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
        instructions: "Tools are named {upstream}__{tool}. Only the tools your scopes allow are listed.",
      },
    );
    this.transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
    this.transport.onclose = () => void this.close();
    const upstreamCaps: ClientCapabilities = {};
    if (options.clientCapabilities.sampling) upstreamCaps.sampling = options.clientCapabilities.sampling;
    if (options.clientCapabilities.elicitation) upstreamCaps.elicitation = options.clientCapabilities.elicitation;
    this.upstreams = (bundle.mcp?.upstreams ?? []).map(
      (config) =>
        new UpstreamConnection(config, {
          secrets: ctx.config.secrets,
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
              void this.server.sendResourceUpdated({ uri: namespacedUri(config.id, uri) }).catch(() => {}),
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
    this.installHandlers();
  }

  get sessionId(): string | undefined {
    return this.transport.sessionId;
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
    this.tools = new NameTable(ready.map((u) => ({ upstreamId: u.id, names: u.catalog.tools.map((t) => t.name) })));
    this.prompts = new NameTable(ready.map((u) => ({ upstreamId: u.id, names: u.catalog.prompts.map((p) => p.name) })));
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
      client.setRequestHandler(CreateMessageRequestSchema, async (request, extra) =>
        this.server.createMessage(request.params, { signal: extra.signal, ...related() }),
      );
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

  private async callUpstream<T>(upstreamId: string, call: (client: Client) => Promise<T>): Promise<T> {
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

  private resolveTool(name: string): NamedItem {
    const item = this.tools.resolve(name);
    if (!item) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    return item;
  }

  private installHandlers(): void {
    const { policy, toolGuard } = this.options;
    // The pass-through guard changes nothing: skipping it saves two promises per call.
    const guarded = toolGuard !== passThroughToolGuard;
    const server = this.server;

    server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
      const scopes = contextOf(extra).principal.scopes;
      if (!this.started) await this.ready;
      const byUpstream = new Map(this.upstreams.map((u) => [u.id, new Map(u.catalog.tools.map((t) => [t.name, t]))]));
      const tools = this.tools.items
        .filter((item) => decideTool(scopes, item.upstreamId, item.name, policy).allowed)
        .flatMap((item) => {
          const tool = byUpstream.get(item.upstreamId)?.get(item.name);
          return tool ? [{ ...tool, name: item.exposed }] : [];
        });
      return { tools };
    });

    server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
      const ctx = contextOf(extra);
      if (!this.started) await this.ready;
      const item = this.resolveTool(request.params.name);
      const decision = decideTool(ctx.principal.scopes, item.upstreamId, item.name, policy);
      if (!decision.allowed) throw new McpError(ErrorCode.InvalidRequest, `tool refused: ${decision.rule}`);
      const started = Date.now();
      const audit = {
        kind: "mcp",
        tool: item.exposed,
        upstream: item.upstreamId,
        method: "tools/call",
        principal: ctx.principal.subject,
        client: ctx.principal.clientId,
        requestId: ctx.requestId,
        traceId: ctx.traceId,
      } as const;
      const args = request.params.arguments ?? {};
      const before = !guarded
        ? ({ action: "allow", value: args } as const)
        : tracingActive()
          ? await span("tollgate.guard.tool-arguments", { [ATTR.GEN_AI_TOOL_NAME]: item.exposed }, () =>
              toolGuard.beforeCall(ctx, item.exposed, args),
            )
          : await toolGuard.beforeCall(ctx, item.exposed, args);
      if (before.action === "block") {
        ctx.audit.record({ ...audit, decision: "block", rule: `guard: ${before.guard}` });
        return { content: [{ type: "text", text: `refused by guard: ${before.guard}` }], isError: true };
      }
      const { progressToken, ...meta } = request.params._meta ?? {};
      const upstreamId = item.upstreamId;
      const ids = this.inFlight.get(upstreamId) ?? [];
      ids.push(extra.requestId);
      this.inFlight.set(upstreamId, ids);
      let result: CallToolResult;
      try {
        const toolAttributes = {
          [ATTR.GEN_AI_OPERATION_NAME]: "execute_tool",
          [ATTR.GEN_AI_TOOL_NAME]: item.exposed,
          [ATTR.UPSTREAM]: upstreamId,
        };
        result = (await upstreamCall(
          "mcp",
          upstreamId,
          upstreamId,
          toolAttributes,
          () =>
            this.callUpstream(upstreamId, (client) =>
              client.callTool(
                { name: item.name, arguments: before.value, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) },
                undefined,
                {
                  signal: extra.signal,
                  timeout: this.upstream(upstreamId)?.config.timeoutMs,
                  resetTimeoutOnProgress: true,
                  ...(progressToken !== undefined
                    ? {
                        onprogress: (progress) =>
                          void extra
                            .sendNotification({
                              method: "notifications/progress",
                              params: { ...progress, progressToken },
                            })
                            .catch(() => {}),
                      }
                    : {}),
                },
              ),
            ),
          undefined,
          this.options.metrics,
        )) as CallToolResult;
      } finally {
        ids.splice(ids.indexOf(extra.requestId), 1);
      }
      const after = !guarded
        ? ({ action: "allow", value: result } as const)
        : tracingActive()
          ? await span("tollgate.guard.tool-result", { [ATTR.GEN_AI_TOOL_NAME]: item.exposed }, () =>
              toolGuard.afterCall(ctx, item.exposed, result),
            )
          : await toolGuard.afterCall(ctx, item.exposed, result);
      if (after.action === "block") {
        ctx.audit.record({
          ...audit,
          decision: "block",
          rule: `guard: ${after.guard}`,
          latencyMs: Date.now() - started,
        });
        return { content: [{ type: "text", text: `result withheld by guard: ${after.guard}` }], isError: true };
      }
      ctx.audit.record({
        ...audit,
        decision: "allow",
        rule: `scope: ${decision.grantedBy}`,
        latencyMs: Date.now() - started,
      });
      return after.value as CallToolResult;
    });

    server.setRequestHandler(ListPromptsRequestSchema, async (_request, extra) => {
      const scopes = contextOf(extra).principal.scopes;
      if (!this.started) await this.ready;
      const byUpstream = new Map(this.upstreams.map((u) => [u.id, new Map(u.catalog.prompts.map((p) => [p.name, p]))]));
      const prompts = this.prompts.items
        .filter((item) => decideUpstreamItem(scopes, item.upstreamId, policy, item.name).allowed)
        .flatMap((item) => {
          const prompt = byUpstream.get(item.upstreamId)?.get(item.name);
          return prompt ? [{ ...prompt, name: item.exposed }] : [];
        });
      return { prompts };
    });

    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
      const ctx = contextOf(extra);
      if (!this.started) await this.ready;
      const item = this.prompts.resolve(request.params.name);
      if (!item) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
      const decision = decideUpstreamItem(ctx.principal.scopes, item.upstreamId, policy, item.name);
      if (!decision.allowed) throw new McpError(ErrorCode.InvalidRequest, `prompt refused: ${decision.rule}`);
      recordAllow(ctx, "prompts/get", item.exposed, item.upstreamId, decision.grantedBy);
      return this.callUpstream(item.upstreamId, (client) =>
        client.getPrompt(
          { name: item.name, ...(request.params.arguments ? { arguments: request.params.arguments } : {}) },
          { signal: extra.signal },
        ),
      );
    });

    const visibleUpstreams = (scopes: readonly string[]) =>
      this.upstreams.filter((u) => u.status === "ready" && decideUpstreamItem(scopes, u.id, policy).allowed);

    server.setRequestHandler(ListResourcesRequestSchema, async (_request, extra) => {
      const scopes = contextOf(extra).principal.scopes;
      if (!this.started) await this.ready;
      const resources = visibleUpstreams(scopes).flatMap((u) =>
        u.catalog.resources.map((r) => ({ ...r, uri: namespacedUri(u.id, r.uri) })),
      );
      return { resources };
    });

    server.setRequestHandler(ListResourceTemplatesRequestSchema, async (_request, extra) => {
      const scopes = contextOf(extra).principal.scopes;
      if (!this.started) await this.ready;
      const resourceTemplates = visibleUpstreams(scopes).flatMap((u) =>
        u.catalog.resourceTemplates.map((t) => ({ ...t, uriTemplate: namespacedTemplate(u.id, t.uriTemplate) })),
      );
      return { resourceTemplates };
    });

    const resolveResource = (uri: string, scopes: readonly string[]) => {
      const target = splitNamespacedUri(uri);
      if (!target || !this.upstream(target.upstreamId))
        throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
      const decision = decideUpstreamItem(scopes, target.upstreamId, policy);
      if (!decision.allowed) throw new McpError(ErrorCode.InvalidRequest, `resource refused: ${decision.rule}`);
      return { ...target, grantedBy: decision.grantedBy };
    };

    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
      const ctx = contextOf(extra);
      if (!this.started) await this.ready;
      const target = resolveResource(request.params.uri, ctx.principal.scopes);
      recordAllow(ctx, "resources/read", request.params.uri, target.upstreamId, target.grantedBy);
      const result = await this.callUpstream(target.upstreamId, (client) =>
        client.readResource({ uri: target.uri }, { signal: extra.signal }),
      );
      return {
        ...result,
        contents: result.contents.map((c) => ({ ...c, uri: namespacedUri(target.upstreamId, c.uri) })),
      };
    });

    server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
      const target = resolveResource(request.params.uri, contextOf(extra).principal.scopes);
      if (!this.started) await this.ready;
      return this.callUpstream(target.upstreamId, (client) => client.subscribeResource({ uri: target.uri }));
    });

    server.setRequestHandler(UnsubscribeRequestSchema, async (request, extra) => {
      const target = resolveResource(request.params.uri, contextOf(extra).principal.scopes);
      if (!this.started) await this.ready;
      return this.callUpstream(target.upstreamId, (client) => client.unsubscribeResource({ uri: target.uri }));
    });

    server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      if (!this.started) await this.ready;
      await Promise.all(
        this.upstreams.map(async (u) => {
          const client = u.ready();
          if (client?.getServerCapabilities()?.logging)
            await client.setLoggingLevel(request.params.level).catch(() => {});
        }),
      );
      return {};
    });

    server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
      const scopes = contextOf(extra).principal.scopes;
      if (!this.started) await this.ready;
      const ref = request.params.ref;
      if (ref.type === "ref/prompt") {
        const item = this.prompts.resolve(ref.name);
        if (!item || !decideUpstreamItem(scopes, item.upstreamId, policy, item.name).allowed) {
          throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
        }
        return this.callUpstream(item.upstreamId, (client) =>
          client.complete({ ...request.params, ref: { type: "ref/prompt", name: item.name } }),
        );
      }
      const target = splitNamespacedUri(ref.uri.replace(/\{/g, "%7B").replace(/\}/g, "%7D"));
      if (
        !target ||
        !this.upstream(target.upstreamId) ||
        !decideUpstreamItem(scopes, target.upstreamId, policy).allowed
      ) {
        throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${ref.uri}`);
      }
      return this.callUpstream(target.upstreamId, (client) =>
        client.complete({ ...request.params, ref: { type: "ref/resource", uri: target.uri } }),
      );
    });
  }
}
