/**
 * The "active runtime": everything composed from one loaded bundle. The server swaps it atomically on
 * reload; requests keep the runtime they started with, and a retired runtime is closed once its
 * in-flight requests have finished (long-lived SSE streams do not hold it open: closing ends them).
 * MCP sessions outlive it: their records (memory handed over, or Redis) let the next runtime resume them.
 */
import { createToolCallGuard } from "../guards/index.js";
import { type TokenVerifier, type TokenVerifierOptions, createTokenVerifier } from "../auth/verifier.js";
import { type ProtectedResourceMetadata, protectedResourceMetadataByPath } from "../auth/metadata.js";
import { type AgentDirectory, compileAgents } from "../../policies/identity/acting-for.js";
import type { ActiveConfig, ToolCallGuard } from "../http/types.js";
import { createUpstreamClient } from "../http/upstream-client.js";
import { type LlmGateway, createLlmGateway } from "../llm/index.js";
import { type McpGateway, createMcpGateway } from "../mcp/index.js";
import { type SessionRecords, memorySessionRecords, redisSessionRecords } from "../mcp/session-records.js";
import { streamEventRetention } from "../mcp/session-events.js";
import { type UsageReportingLimiter, createRateLimiter } from "../limits/index.js";
import { createSpendLedger } from "../limits/spend.js";
import type { MemorySpendStore } from "../limits/spend-store.js";
import type { AuditLog } from "../observability/audit.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { type UpstreamReadiness, createUpstreamReadiness } from "./readiness.js";

export interface ActiveRuntime {
  readonly config: ActiveConfig;
  readonly verifier: TokenVerifier;
  /** The bundle's agents, indexed for identification (who acts, and for whom). */
  readonly agents: AgentDirectory;
  readonly limiter: UsageReportingLimiter;
  readonly toolGuard: ToolCallGuard;
  readonly mcp: McpGateway;
  readonly llm: LlmGateway;
  /** RFC 9728 documents by the path they are served at (the root, the MCP path, each role endpoint's). */
  readonly prm: ReadonlyMap<string, ProtectedResourceMetadata>;
  /** The upstreams `/readyz` requires (`server.readiness`), probed while this runtime serves. */
  readonly readiness: UpstreamReadiness;
  /** Counts a request against this runtime; call the returned function when it finishes. */
  acquire(): () => void;
  /** Requests in flight (streams excluded by the caller). */
  readonly inFlight: number;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Closes the MCP gateway, the LLM gateway and the limiter, then the upstream pool they share (once). */
  close(): Promise<void>;
}

export interface ActiveRuntimeDeps {
  readonly audit: AuditLog;
  readonly verifierOptions?: TokenVerifierOptions;
  /** Upstream metrics for requests served outside the request context (tracing off). */
  readonly metrics?: GatewayMetrics;
  /**
   * MCP session records of this process, handed from one runtime to the next so a reload keeps sessions.
   * Unused when the bundle's `rateLimitStore` is Redis: the records are shared there, by every replica.
   */
  readonly mcpSessionRecords?: SessionRecords;
  /** Spend counts of this process, handed from one runtime to the next (unused with a Redis store). */
  readonly spendCounts?: MemorySpendStore;
  /** Where readiness changes of required upstreams are reported. @default nowhere */
  readonly log?: (line: string) => void;
}

/** How long an MCP session of this bundle may stay unused before it ends (its record expires). */
export function mcpSessionIdleMs(config: ActiveConfig): number {
  return (config.bundle.mcp?.sessions.idleMinutes ?? 30) * 60_000;
}

/** Where this runtime's MCP session records live, and whether it owns (closes) that store. */
function mcpSessionStore(
  config: ActiveConfig,
  shared: SessionRecords | undefined,
): { records: SessionRecords; owned: boolean } {
  const store = config.bundle.rateLimitStore;
  if (store.type === "redis")
    return {
      records: redisSessionRecords(
        config.secrets.read(store.url),
        `${store.keyPrefix}mcp-session:`,
        mcpSessionIdleMs(config),
        streamEventRetention(config.bundle.mcp),
      ),
      owned: true,
    };
  if (shared) return { records: shared, owned: false };
  return {
    records: memorySessionRecords(mcpSessionIdleMs(config), Date.now, streamEventRetention(config.bundle.mcp)),
    owned: true,
  };
}

/** The bundle's `mcp.sessions`, in the MCP gateway's terms. */
function mcpSessionLimits(config: ActiveConfig) {
  const sessions = config.bundle.mcp?.sessions;
  return {
    idleSessionMs: mcpSessionIdleMs(config),
    maxSessionsPerPrincipal: sessions?.maxPerPrincipal ?? 8,
    maxStdioProcesses: sessions?.maxStdioProcesses ?? 256,
  };
}

export async function createActiveRuntime(config: ActiveConfig, deps: ActiveRuntimeDeps): Promise<ActiveRuntime> {
  const { audit } = deps;
  // RFC 9728: a token whose audience is the protected resource the gateway advertises is meant for it too.
  const verifier = createTokenVerifier(config.bundle.auth, {
    ...deps.verifierOptions,
    resource: config.bundle.protectedResource.resource,
  });
  const limiter = await createRateLimiter(config, { audit });
  const spend = createSpendLedger(config, { audit, ...(deps.spendCounts ? { memory: deps.spendCounts } : {}) });
  await spend.ready();
  let mcp: McpGateway;
  let llm: LlmGateway;
  const toolGuard = createToolCallGuard(config);
  // One connection pool for every upstream of this bundle, LLM providers and MCP servers alike.
  const upstream = createUpstreamClient();
  const metrics = deps.metrics ? { metrics: deps.metrics } : {};
  const sessionStore = mcpSessionStore(config, deps.mcpSessionRecords);
  const closeSessionStore = () => (sessionStore.owned ? sessionStore.records.close() : Promise.resolve());
  try {
    mcp = createMcpGateway(config, {
      audit,
      limiter,
      toolGuard,
      upstream,
      sessionRecords: sessionStore.records,
      ...mcpSessionLimits(config),
      ...metrics,
    });
    llm = createLlmGateway(config, { audit, limiter, spend, upstream, ...metrics });
  } catch (error) {
    await Promise.allSettled([limiter.close(), spend.close(), upstream.close(), closeSessionStore()]);
    throw error;
  }
  const readiness = createUpstreamReadiness(config.bundle, deps.log ? { log: deps.log } : {});
  deps.metrics?.watchMcpSessions(() => {
    const stdio = mcp.stdioProcesses();
    return {
      sessions: mcp.sessionCount(),
      stdioProcesses: stdio.inUse,
      stdioProcessLimit: stdio.limit,
      statelessSets: mcp.statelessSetCount(),
    };
  });

  let inFlight = 0;
  let waiters: (() => void)[] = [];
  let closing: Promise<void> | undefined;

  return {
    config,
    verifier,
    agents: compileAgents(config.bundle.agents),
    limiter,
    toolGuard,
    mcp,
    llm,
    prm: protectedResourceMetadataByPath(config.bundle),
    readiness,
    acquire() {
      inFlight++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        inFlight--;
        if (inFlight === 0) {
          const done = waiters;
          waiters = [];
          for (const w of done) w();
        }
      };
    },
    get inFlight() {
      return inFlight;
    },
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve));
    },
    close() {
      readiness.close();
      closing ??= Promise.allSettled([mcp.close(), llm.close(), limiter.close(), spend.close()])
        .then(() => Promise.allSettled([upstream.close(), closeSessionStore()]))
        .then(
          () => undefined,
          () => undefined,
        );
      return closing;
    },
  };
}
