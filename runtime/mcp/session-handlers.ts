/**
 * The request handlers of a session's SDK `Server`: lists filtered by the caller's scopes, and calls, prompt
 * and resource reads re-decided per request (the policy gate already decided before the transport: the
 * same pure `policies/tools` functions, with the scopes of the request being handled). A tool call is the
 * rest of the request path for that call: guard its arguments, call the upstream, guard its result, record.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
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
  type RequestId,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import {
  type CompiledToolPolicy,
  type NameTable,
  type NamedItem,
  decideTool,
  decideUpstreamItem,
} from "../../policies/tools/index.js";
import { stage } from "../http/stage.js";
import { POLICY_REFUSED } from "./jsonrpc.js";
import { type GuardOutcome, type RequestContext, type ToolCallGuard, passThroughToolGuard } from "../http/types.js";
import { ATTR, upstreamCall } from "../observability/index.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { SEARCH_TOOL, allowedTools, isMetaTool, listed, search, select } from "./discovery.js";
import type { McpEndpoint } from "./endpoint.js";
import type { UpstreamConnection } from "./upstream.js";
import { auditWho } from "../observability/audit.js";

/** What the handlers use of their session (./session.ts). */
export interface HandledSession {
  readonly server: Server;
  /** What the session shows and under which names (./endpoint.ts). */
  readonly endpoint: McpEndpoint;
  /** Progressive discovery: the exposed names the client selected (./discovery.ts). */
  readonly workingSet: Set<string>;
  /** Keeps the working set where a resumed session finds it again. */
  workingSetChanged(): Promise<void>;
  /** True once `ready` resolved: requests then skip awaiting it. */
  readonly started: boolean;
  readonly ready: Promise<void>;
  readonly tools: NameTable;
  readonly prompts: NameTable;
  readonly upstreams: readonly UpstreamConnection[];
  /** Downstream tools/call request ids in flight per upstream: where upstream sampling/elicitation goes. */
  readonly inFlight: Map<string, RequestId[]>;
  upstream(id: string): UpstreamConnection | undefined;
  callUpstream<T>(upstreamId: string, call: (client: Client) => Promise<T>): Promise<T>;
}

export interface HandlerOptions {
  readonly policy: CompiledToolPolicy;
  readonly toolGuard: ToolCallGuard;
  /** Upstream latency for untraced requests (they run outside the request context). */
  readonly metrics?: Pick<GatewayMetrics, "observeUpstream">;
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
    ...auditWho(ctx.principal),
    requestId: ctx.requestId,
    traceId: ctx.traceId,
  });
}

/** What the guard let through, or the refusal a client gets for content a guard withheld. */
function allowedContent<T>(outcome: GuardOutcome<unknown>): T {
  if (outcome.action === "block") throw new McpError(POLICY_REFUSED, `withheld by guard: ${outcome.guard}`);
  return outcome.value as T;
}

function resolveTool(session: HandledSession, name: string): NamedItem {
  const item = session.tools.resolve(name);
  if (!item) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  return item;
}

/** Installs every handler on `session.server`. */
export function installHandlers(session: HandledSession, options: HandlerOptions): void {
  const { policy, toolGuard, metrics } = options;
  // The pass-through guard changes nothing: skipping it saves two promises per call.
  const guarded = toolGuard !== passThroughToolGuard;
  const server = session.server;
  const endpoint = session.endpoint;

  const progressive = endpoint.discovery === "progressive";
  /** The tools of the session as discovery reads them: the name table and the upstreams' definitions. */
  const catalog = () => {
    const byUpstream = new Map(session.upstreams.map((u) => [u.id, new Map(u.catalog.tools.map((t) => [t.name, t]))]));
    return {
      items: session.tools.items,
      definition: (item: NamedItem) => byUpstream.get(item.upstreamId)?.get(item.name),
    };
  };

  server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
    const scopes = contextOf(extra).principal.scopes;
    if (!session.started) await session.ready;
    const allowed = allowedTools(catalog(), scopes, policy);
    if (progressive) return { tools: listed(allowed, session.workingSet) };
    return { tools: allowed.map(({ item, tool }) => ({ ...tool, name: item.exposed })) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const ctx = contextOf(extra);
    if (!session.started) await session.ready;
    if (progressive && isMetaTool(request.params.name))
      return discover(request.params.name, request.params.arguments ?? {}, ctx, extra);
    const item = resolveTool(session, request.params.name);
    const decision = decideTool(ctx.principal.scopes, item.upstreamId, item.name, policy);
    if (!decision.allowed) throw new McpError(POLICY_REFUSED, `tool refused: ${decision.rule}`);
    const started = Date.now();
    const audit = {
      kind: "mcp",
      tool: item.exposed,
      upstream: item.upstreamId,
      method: "tools/call",
      ...auditWho(ctx.principal),
      requestId: ctx.requestId,
      traceId: ctx.traceId,
    } as const;
    const args = request.params.arguments ?? {};
    const before = guarded
      ? await stage("guard.tool-arguments", { [ATTR.GEN_AI_TOOL_NAME]: item.exposed }, () =>
          toolGuard.beforeCall(ctx, item.exposed, args),
        )
      : ({ action: "allow", value: args } as const);
    if (before.action === "block") {
      ctx.audit.record({ ...audit, decision: "block", rule: `guard: ${before.guard}` });
      return { content: [{ type: "text", text: `refused by guard: ${before.guard}` }], isError: true };
    }
    const { progressToken, ...meta } = request.params._meta ?? {};
    const upstreamId = item.upstreamId;
    const ids = session.inFlight.get(upstreamId) ?? [];
    ids.push(extra.requestId);
    session.inFlight.set(upstreamId, ids);
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
          session.callUpstream(upstreamId, (client) =>
            client.callTool(
              { name: item.name, arguments: before.value, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) },
              undefined,
              {
                signal: extra.signal,
                timeout: session.upstream(upstreamId)?.config.timeoutMs,
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
        metrics,
      )) as CallToolResult;
    } finally {
      ids.splice(ids.indexOf(extra.requestId), 1);
    }
    const after = guarded
      ? await stage("guard.tool-result", { [ATTR.GEN_AI_TOOL_NAME]: item.exposed }, () =>
          toolGuard.afterCall(ctx, item.exposed, result),
        )
      : ({ action: "allow", value: result } as const);
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

  /** A meta-tool call of progressive discovery, on the caller's allowed catalog; audited as a discovery. */
  const discover = async (
    name: string,
    args: Record<string, unknown>,
    ctx: RequestContext,
    extra: Extra,
  ): Promise<CallToolResult> => {
    const allowed = allowedTools(catalog(), ctx.principal.scopes, policy);
    let result: CallToolResult;
    if (name === SEARCH_TOOL) result = search(allowed, args);
    else {
      const selected = select(allowed, session.workingSet, args);
      result = selected.result;
      // On the select call's own stream, ahead of its answer: the client lists again and sees the working set.
      if (selected.changed) {
        await session.workingSetChanged();
        await extra.sendNotification({ method: "notifications/tools/list_changed" }).catch(() => {});
      }
    }
    ctx.audit.record({
      kind: "mcp",
      decision: "allow",
      method: "tools/call",
      tool: name,
      rule: "discovery",
      principal: ctx.principal.subject,
      client: ctx.principal.clientId,
      requestId: ctx.requestId,
      traceId: ctx.traceId,
    });
    return result;
  };

  server.setRequestHandler(ListPromptsRequestSchema, async (_request, extra) => {
    const scopes = contextOf(extra).principal.scopes;
    if (!session.started) await session.ready;
    const byUpstream = new Map(
      session.upstreams.map((u) => [u.id, new Map(u.catalog.prompts.map((p) => [p.name, p]))]),
    );
    const prompts = session.prompts.items
      .filter((item) => decideUpstreamItem(scopes, item.upstreamId, policy, item.name).allowed)
      .flatMap((item) => {
        const prompt = byUpstream.get(item.upstreamId)?.get(item.name);
        return prompt ? [{ ...prompt, name: item.exposed }] : [];
      });
    return { prompts };
  });

  server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const ctx = contextOf(extra);
    if (!session.started) await session.ready;
    const item = session.prompts.resolve(request.params.name);
    if (!item) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
    const decision = decideUpstreamItem(ctx.principal.scopes, item.upstreamId, policy, item.name);
    if (!decision.allowed) throw new McpError(POLICY_REFUSED, `prompt refused: ${decision.rule}`);
    recordAllow(ctx, "prompts/get", item.exposed, item.upstreamId, decision.grantedBy);
    const prompt = await session.callUpstream(item.upstreamId, (client) =>
      client.getPrompt(
        { name: item.name, ...(request.params.arguments ? { arguments: request.params.arguments } : {}) },
        { signal: extra.signal },
      ),
    );
    return allowedContent(await toolGuard.guardContent(ctx, item.exposed, "prompt", prompt));
  });

  const visibleUpstreams = (scopes: readonly string[]) =>
    session.upstreams.filter((u) => u.status === "ready" && decideUpstreamItem(scopes, u.id, policy).allowed);

  server.setRequestHandler(ListResourcesRequestSchema, async (_request, extra) => {
    const scopes = contextOf(extra).principal.scopes;
    if (!session.started) await session.ready;
    const resources = visibleUpstreams(scopes).flatMap((u) =>
      u.catalog.resources.map((r) => ({ ...r, uri: endpoint.exposeUri(u.id, r.uri) })),
    );
    return { resources };
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (_request, extra) => {
    const scopes = contextOf(extra).principal.scopes;
    if (!session.started) await session.ready;
    const resourceTemplates = visibleUpstreams(scopes).flatMap((u) =>
      u.catalog.resourceTemplates.map((t) => ({ ...t, uriTemplate: endpoint.exposeTemplate(u.id, t.uriTemplate) })),
    );
    return { resourceTemplates };
  });

  const resolveResource = (uri: string, scopes: readonly string[]) => {
    const target = endpoint.resolveUri(uri);
    if (!target || !session.upstream(target.upstreamId))
      throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
    const decision = decideUpstreamItem(scopes, target.upstreamId, policy);
    if (!decision.allowed) throw new McpError(POLICY_REFUSED, `resource refused: ${decision.rule}`);
    return { ...target, grantedBy: decision.grantedBy };
  };

  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const ctx = contextOf(extra);
    if (!session.started) await session.ready;
    const target = resolveResource(request.params.uri, ctx.principal.scopes);
    recordAllow(ctx, "resources/read", request.params.uri, target.upstreamId, target.grantedBy);
    const result = await session.callUpstream(target.upstreamId, (client) =>
      client.readResource({ uri: target.uri }, { signal: extra.signal }),
    );
    const contents = {
      ...result,
      contents: result.contents.map((c) => ({ ...c, uri: endpoint.exposeUri(target.upstreamId, c.uri) })),
    };
    return allowedContent(await toolGuard.guardContent(ctx, request.params.uri, "resource", contents));
  });

  server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
    const target = resolveResource(request.params.uri, contextOf(extra).principal.scopes);
    if (!session.started) await session.ready;
    return session.callUpstream(target.upstreamId, (client) => client.subscribeResource({ uri: target.uri }));
  });

  server.setRequestHandler(UnsubscribeRequestSchema, async (request, extra) => {
    const target = resolveResource(request.params.uri, contextOf(extra).principal.scopes);
    if (!session.started) await session.ready;
    return session.callUpstream(target.upstreamId, (client) => client.unsubscribeResource({ uri: target.uri }));
  });

  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    if (!session.started) await session.ready;
    await Promise.all(
      session.upstreams.map(async (u) => {
        const client = u.ready();
        if (client?.getServerCapabilities()?.logging)
          await client.setLoggingLevel(request.params.level).catch(() => {});
      }),
    );
    return {};
  });

  server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
    const scopes = contextOf(extra).principal.scopes;
    if (!session.started) await session.ready;
    const ref = request.params.ref;
    if (ref.type === "ref/prompt") {
      const item = session.prompts.resolve(ref.name);
      if (!item || !decideUpstreamItem(scopes, item.upstreamId, policy, item.name).allowed) {
        throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
      }
      return session.callUpstream(item.upstreamId, (client) =>
        client.complete({ ...request.params, ref: { type: "ref/prompt", name: item.name } }),
      );
    }
    const target = endpoint.resolveTemplate(ref.uri);
    if (
      !target ||
      !session.upstream(target.upstreamId) ||
      !decideUpstreamItem(scopes, target.upstreamId, policy).allowed
    ) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${ref.uri}`);
    }
    return session.callUpstream(target.upstreamId, (client) =>
      client.complete({ ...request.params, ref: { type: "ref/resource", uri: target.uri } }),
    );
  });
}
