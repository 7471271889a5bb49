/**
 * The open downstream sessions of one MCP gateway, keyed by `Mcp-Session-Id` and bound to the principal
 * that opened them. A request carrying an id must come from that principal, same issuer, subject and
 * client; otherwise it gets 404 "Session not found", exactly what an unknown id gets, so a session id
 * cannot be probed or hijacked with another user's token, and a legitimate client that receives it simply
 * starts a new session (the spec's reaction to 404).
 */
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import type { Bundle } from "../../policies/bundle/index.js";
import type { CompiledToolPolicy } from "../../policies/tools/index.js";
import type { RequestContext, ToolCallGuard } from "../http/types.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { TokenCache } from "./credentials.js";
import { McpSession, bindingOf, sameBinding } from "./session.js";

export interface SessionSettings {
  readonly bundle: Bundle;
  readonly policy: CompiledToolPolicy;
  readonly toolGuard: ToolCallGuard;
  /** How HTTP upstreams are reached (the runtime's pooled client). */
  readonly fetch: FetchLike;
  readonly metrics: Pick<GatewayMetrics, "observeUpstream" | "setMcpUpstreamHealth"> | undefined;
  readonly idleMs: number;
  readonly maxPerPrincipal: number;
  readonly upstreamMinBackoffMs: number | undefined;
  readonly upstreamStartWaitMs: number | undefined;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, McpSession>();
  private readonly tokenCache = new TokenCache();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly settings: SessionSettings) {
    // Sessions idle past `idleMs` are closed, their upstream children stopped.
    this.sweeper = setInterval(
      () => {
        const cutoff = Date.now() - settings.idleMs;
        for (const session of this.sessions.values()) if (session.lastSeen < cutoff) void session.close();
      },
      Math.min(60_000, settings.idleMs),
    );
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session `id` names, when it is bound to the request's principal (a mismatch is audited). */
  find(ctx: RequestContext, id: string): McpSession | undefined {
    const session = this.sessions.get(id);
    if (session && sameBinding(session.binding, bindingOf(ctx.principal))) {
      session.touch(ctx.principal);
      return session;
    }
    if (session) {
      ctx.audit.record({
        kind: "mcp",
        decision: "deny",
        principal: ctx.principal.subject,
        client: ctx.principal.clientId,
        rule: "session: bound to another principal",
        status: 404,
        requestId: ctx.requestId,
        traceId: ctx.traceId,
      });
    }
    return undefined;
  }

  /**
   * A new session for the principal of `ctx`, not registered until its transport gives it an id. Opening
   * one past `maxPerPrincipal` closes the principal's least recently used: each session owns upstream
   * clients (stdio children included), so this bounds what one caller can make the gateway spawn.
   */
  async open(ctx: RequestContext, clientCapabilities: ClientCapabilities): Promise<McpSession> {
    const { settings } = this;
    const binding = bindingOf(ctx.principal);
    const own = [...this.sessions.values()]
      .filter((s) => sameBinding(s.binding, binding))
      .sort((a, b) => a.lastSeen - b.lastSeen);
    for (const stale of own.slice(0, Math.max(0, own.length - settings.maxPerPrincipal + 1))) await stale.close();
    return new McpSession({
      bundle: settings.bundle,
      policy: settings.policy,
      ctx,
      toolGuard: settings.toolGuard,
      tokenCache: this.tokenCache,
      fetch: settings.fetch,
      clientCapabilities,
      onClosed: (s) => {
        if (s.sessionId && this.sessions.get(s.sessionId) === s) this.sessions.delete(s.sessionId);
      },
      ...(settings.upstreamMinBackoffMs !== undefined ? { minBackoffMs: settings.upstreamMinBackoffMs } : {}),
      ...(settings.upstreamStartWaitMs !== undefined ? { startWaitMs: settings.upstreamStartWaitMs } : {}),
      ...(settings.metrics ? { metrics: settings.metrics } : {}),
    });
  }

  /** Keeps a session its transport accepted (it has an id now). */
  register(session: McpSession): void {
    if (session.sessionId) this.sessions.set(session.sessionId, session);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
    this.sessions.clear();
  }
}
