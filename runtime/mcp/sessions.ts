/**
 * The downstream sessions this replica serves, keyed by `Mcp-Session-Id` and bound to the principal that
 * opened them. Each one is also a record in the session store (./session-records.ts), so a replica that does
 * not hold a session (another replica opened it, or a reload replaced the runtime) resumes it from its record
 * for the same principal, with the policy of the bundle it runs now.
 *
 * A request carrying an id must come from that principal, same issuer, subject and client; otherwise it gets
 * 404 "Session not found", exactly what an unknown id gets, so a session id cannot be probed or hijacked with
 * another user's token, and a legitimate client that receives it simply starts a new session (the spec's
 * reaction to 404).
 */
import { randomUUID } from "node:crypto";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type InitializeRequest, LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import type { Bundle } from "../../policies/bundle/index.js";
import type { CompiledToolPolicy } from "../../policies/tools/index.js";
import type { RequestContext, ToolCallGuard } from "../http/types.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import type { McpEndpoint } from "./endpoint.js";
import { TokenCache } from "./credentials.js";
import type { SessionRecord, SessionRecords } from "./session-records.js";
import { bindingKey, bindingOf, sameBinding } from "./binding.js";
import { McpSession } from "./session.js";
import { streamEventRetention } from "./session-events.js";
import type { StdioBudget } from "./stdio-budget.js";
import { auditWho } from "../observability/audit.js";

export interface SessionSettings {
  readonly bundle: Bundle;
  /** The endpoint this registry serves: its sessions show what it shows (./endpoint.ts). */
  readonly endpoint: McpEndpoint;
  readonly policy: CompiledToolPolicy;
  readonly toolGuard: ToolCallGuard;
  /** How HTTP upstreams are reached (the runtime's pooled client). */
  readonly fetch: FetchLike;
  readonly metrics: Pick<GatewayMetrics, "observeUpstream" | "setMcpUpstreamHealth"> | undefined;
  readonly idleMs: number;
  readonly maxPerPrincipal: number;
  readonly upstreamMinBackoffMs: number | undefined;
  readonly upstreamStartWaitMs: number | undefined;
  readonly records: SessionRecords;
  /** Stdio upstream processes this replica may run for all its sessions together. */
  readonly stdio: StdioBudget;
}

/** Why no session could be given to a request (the request stage turns each into its HTTP answer). */
export type SessionRefusal = "not-found" | "store-unavailable" | "stdio-exhausted";

export type SessionLookup =
  { readonly ok: true; readonly session: McpSession } | { readonly ok: false; readonly reason: SessionRefusal };

export class SessionRegistry {
  private readonly sessions = new Map<string, McpSession>();
  /** Stateless (2026-07-28) upstream sets, one per principal, keyed by `bindingKey` (./stateless.ts). */
  private readonly statelessSets = new Map<string, McpSession>();
  private readonly statelessOpening = new Map<string, Promise<SessionLookup>>();
  private readonly resuming = new Map<string, Promise<SessionLookup>>();
  private readonly tokenCache = new TokenCache();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly settings: SessionSettings) {
    // Sessions idle past `idleMs` are closed, their upstream children stopped.
    this.sweeper = setInterval(
      () => {
        const cutoff = Date.now() - settings.idleMs;
        // Closed here only: the record expires on its own once no replica has seen the session for `idleMs`.
        for (const session of this.sessions.values()) if (session.lastSeen < cutoff) void session.close();
        for (const session of this.statelessSets.values()) if (session.lastSeen < cutoff) void session.close();
      },
      Math.min(60_000, settings.idleMs),
    );
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Stateless upstream sets this replica holds. */
  /**
   * The tools the upstreams listed to the sessions this replica holds, by upstream id and the upstream's own
   * name, each once. Empty until some session has connected.
   */
  listedTools(): { readonly upstream: string; readonly name: string }[] {
    const seen = new Map<string, { upstream: string; name: string }>();
    for (const session of [...this.sessions.values(), ...this.statelessSets.values()])
      for (const upstream of session.upstreams)
        for (const tool of upstream.catalog.tools)
          seen.set(JSON.stringify([upstream.config.id, tool.name]), { upstream: upstream.config.id, name: tool.name });
    return [...seen.values()];
  }

  get statelessSize(): number {
    return this.statelessSets.size;
  }

  /**
   * The upstream set that serves the principal's stateless (2026-07-28) requests on this replica: an
   * internal session nobody can name (its id is never sent, recorded or registered with the session ids),
   * opened on first use with a replayed initialize that declares no client capabilities, and closed after
   * `idleMs` without requests. Requests that arrive together while it opens share the opening.
   */
  async statelessFor(ctx: RequestContext): Promise<SessionLookup> {
    const binding = bindingOf(ctx.principal);
    const key = bindingKey(binding);
    const held = this.statelessSets.get(key);
    if (held) {
      held.touch(ctx.principal);
      return { ok: true, session: held };
    }
    let opening = this.statelessOpening.get(key);
    if (!opening) {
      opening = this.openStateless(ctx, key).finally(() => this.statelessOpening.delete(key));
      this.statelessOpening.set(key, opening);
    }
    const opened = await opening;
    if (opened.ok) opened.session.touch(ctx.principal);
    return opened;
  }

  private async openStateless(ctx: RequestContext, key: string): Promise<SessionLookup> {
    const created = await this.create(ctx, {}, randomUUID(), key);
    if (!created.ok) return created;
    try {
      await created.session.resume({
        binding: created.session.binding,
        protocolVersion: LATEST_PROTOCOL_VERSION,
        clientInfo: { name: "tollgate-stateless", version: "0" },
        clientCapabilities: {},
        created: Date.now(),
      });
    } catch (error) {
      await created.session.close();
      throw error;
    }
    this.statelessSets.set(key, created.session);
    return created;
  }

  /**
   * The session `id` names, when it is bound to the request's principal (a mismatch is audited): held here,
   * or resumed from its record.
   */
  async find(ctx: RequestContext, id: string): Promise<SessionLookup> {
    const held = this.sessions.get(id);
    if (held) {
      if (!sameBinding(held.binding, bindingOf(ctx.principal))) return this.notYours(ctx);
      // A session ended on another replica (DELETE) or expired there ends here too. A store that cannot
      // answer does not end it: this replica keeps serving the sessions it holds through a store outage.
      if (!(await this.settings.records.touch(id).catch(() => true))) {
        await held.close();
        return { ok: false, reason: "not-found" };
      }
      held.touch(ctx.principal);
      return { ok: true, session: held };
    }
    let record: SessionRecord | undefined;
    try {
      record = await this.settings.records.load(id);
    } catch {
      return { ok: false, reason: "store-unavailable" };
    }
    // A session belongs to the endpoint it was opened on: another endpoint's id is unknown here.
    if (!record || (record.endpoint ?? this.settings.bundle.mcp?.path) !== this.settings.endpoint.path)
      return { ok: false, reason: "not-found" };
    if (!sameBinding(record.binding, bindingOf(ctx.principal))) return this.notYours(ctx);
    // Two requests of one session can arrive here together: both wait for the same resumption.
    let resuming = this.resuming.get(id);
    if (!resuming) {
      resuming = this.resume(ctx, id, record).finally(() => this.resuming.delete(id));
      this.resuming.set(id, resuming);
    }
    const resumed = await resuming;
    if (resumed.ok) resumed.session.touch(ctx.principal);
    return resumed;
  }

  private notYours(ctx: RequestContext): SessionLookup {
    ctx.audit.record({
      kind: "mcp",
      decision: "deny",
      ...auditWho(ctx.principal),
      rule: "session: bound to another principal",
      status: 404,
      requestId: ctx.requestId,
      traceId: ctx.traceId,
    });
    return { ok: false, reason: "not-found" };
  }

  private async resume(ctx: RequestContext, id: string, record: SessionRecord): Promise<SessionLookup> {
    const created = await this.create(ctx, record.clientCapabilities, id);
    if (!created.ok) return created;
    try {
      await created.session.resume(record);
    } catch (error) {
      await created.session.close();
      throw error;
    }
    for (const name of record.workingSet ?? []) created.session.workingSet.add(name);
    this.sessions.set(id, created.session);
    return created;
  }

  /**
   * A new session for the principal of `ctx`, not registered until its transport gives it an id. Opening
   * one past `maxPerPrincipal` closes the principal's least recently used here: each session owns upstream
   * clients (stdio children included), so this bounds what one caller can make a replica spawn.
   */
  async open(ctx: RequestContext, params: Partial<InitializeRequest["params"]>): Promise<SessionLookup> {
    const binding = bindingOf(ctx.principal);
    const own = [...this.sessions.values()]
      .filter((s) => sameBinding(s.binding, binding))
      .sort((a, b) => a.lastSeen - b.lastSeen);
    for (const stale of own.slice(0, Math.max(0, own.length - this.settings.maxPerPrincipal + 1))) {
      await stale.close();
      if (stale.sessionId) this.settings.records.remove(stale.sessionId).catch(() => {});
    }
    const created = await this.create(ctx, params.capabilities ?? {}, undefined);
    if (created.ok) created.session.initializeParams = params;
    return created;
  }

  private async create(
    ctx: RequestContext,
    clientCapabilities: SessionRecord["clientCapabilities"],
    resumeId: string | undefined,
    statelessKey?: string,
  ): Promise<SessionLookup> {
    const { settings } = this;
    const stdioCount = settings.endpoint.upstreams.filter((u) => u.transport.type === "stdio").length;
    const release = settings.stdio.acquire(stdioCount);
    if (!release) return { ok: false, reason: "stdio-exhausted" };
    const session = new McpSession({
      policy: settings.policy,
      endpoint: settings.endpoint,
      ctx,
      toolGuard: settings.toolGuard,
      tokenCache: this.tokenCache,
      fetch: settings.fetch,
      clientCapabilities,
      ...(resumeId !== undefined ? { resumeId } : { onInitialized: (s: McpSession) => this.register(ctx, s) }),
      ...(statelessKey === undefined ? { onWorkingSetChanged: (s: McpSession) => this.saveWorkingSet(s) } : {}),
      ...(statelessKey !== undefined
        ? { jsonResponse: true }
        : streamEventRetention(settings.bundle.mcp).retentionMs > 0
          ? { streamEvents: (id: string) => settings.records.events.forSession(id) }
          : {}),
      onClosed: (s) => {
        release();
        if (s.sessionId && this.sessions.get(s.sessionId) === s) this.sessions.delete(s.sessionId);
        if (statelessKey !== undefined && this.statelessSets.get(statelessKey) === s)
          this.statelessSets.delete(statelessKey);
      },
      ...(settings.upstreamMinBackoffMs !== undefined ? { minBackoffMs: settings.upstreamMinBackoffMs } : {}),
      ...(settings.upstreamStartWaitMs !== undefined ? { startWaitMs: settings.upstreamStartWaitMs } : {}),
      ...(settings.metrics ? { metrics: settings.metrics } : {}),
    });
    return { ok: true, session };
  }

  /**
   * Keeps a session its transport accepted (it has an id now) and writes its record, before the client has
   * the answer to its initialize (so whichever replica its next request reaches finds the record). A store
   * that cannot take it leaves the session served by this replica only (audited): the client keeps working
   * here, and elsewhere gets "Session not found" and initializes again, as the spec has it.
   */
  private async register(ctx: RequestContext, session: McpSession): Promise<void> {
    const id = session.sessionId;
    if (!id) return;
    this.sessions.set(id, session);
    const params = session.initializeParams ?? {};
    try {
      await this.settings.records.save(id, {
        binding: session.binding,
        protocolVersion: params.protocolVersion ?? LATEST_PROTOCOL_VERSION,
        clientInfo: params.clientInfo ?? { name: "unknown", version: "0" },
        clientCapabilities: params.capabilities ?? {},
        created: Date.now(),
        endpoint: this.settings.endpoint.path,
      });
    } catch (error) {
      ctx.audit.record({
        kind: "config",
        decision: "error",
        principal: ctx.principal.subject,
        rule: "mcp: session store",
        reason: `new session kept on this replica only: ${(error as Error).message}`,
        requestId: ctx.requestId,
      });
    }
  }

  /** The session's record gets its working set (progressive discovery); a store that cannot answer leaves it as it was. */
  private async saveWorkingSet(session: McpSession): Promise<void> {
    const id = session.sessionId;
    if (!id) return;
    try {
      const record = await this.settings.records.load(id);
      if (record) await this.settings.records.save(id, { ...record, workingSet: [...session.workingSet] });
    } catch {
      // The session keeps its working set on this replica; another one would start with an empty set.
    }
  }

  /** The client ended the session (DELETE): no replica may resume it. */
  async forget(id: string): Promise<void> {
    await Promise.all([this.settings.records.remove(id), this.settings.records.events.forget(id)]).catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values(), ...this.statelessSets.values()].map((s) => s.close()));
    this.sessions.clear();
    this.statelessSets.clear();
  }
}
