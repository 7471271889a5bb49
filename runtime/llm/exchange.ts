/**
 * One chat completion as it moves through the request path: what the gateway gives every request (its
 * services and the compiled route), the request itself, and what each stage found, in the fields the
 * later stages read. A class, so every request's exchange has the same shape.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LlmRoute } from "../../policies/bundle/index.js";
import type { CompiledGuardPolicy } from "../../policies/guards/index.js";
import type { Json } from "../http/json.js";
import type { HttpHandler, RateLimiter, RequestContext } from "../http/types.js";
import { type AuditEvent, type AuditLog, auditWho } from "../observability/audit.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { type TraceContextHeaders, untracedTraceContext } from "../observability/trace-context.js";
import type { SpendCharge, SpendLedger } from "../limits/spend.js";
import type { Usage } from "./usage.js";
import { type ErrorFlavour, type LlmError, sendLlmError } from "./errors.js";
import type { ProviderHealth } from "./failover.js";
import type { PreparedProvider } from "./providers.js";
import type { RequestGuard } from "./request-guard.js";
import type { EncodedMessages } from "./history/encoded-messages.js";
import type { HistoryBody, RequestHistory } from "./history/request-history.js";
import { type WireFormat, errorFlavour } from "./translate/formats.js";
import type { UpstreamAnswer, UpstreamClient } from "../http/upstream-client.js";

/** What every request of one gateway shares: built once per loaded bundle. */
export interface LlmServices {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
  /** Prices and spend budgets. */
  readonly spend: SpendLedger;
  readonly health: ProviderHealth;
  readonly upstream: UpstreamClient;
  readonly now: () => number;
  /** Upstream latency for untraced requests, which run outside the request context. */
  readonly metrics: Pick<GatewayMetrics, "observeUpstream"> | undefined;
  /** `server.maxRequestBytes`. */
  readonly maxRequestBytes: number;
  /** `telemetry.audit.capturePrompts`: the post-redaction prompt goes into audit events. */
  readonly capturePrompts: boolean;
}

/** Everything per route, compiled at load. */
export interface CompiledRoute {
  readonly config: LlmRoute;
  readonly prefix: string;
  readonly providers: readonly PreparedProvider[];
  readonly policy: CompiledGuardPolicy;
  readonly requestGuard: RequestGuard;
  /**
   * Each principal's last chat.completions and Messages requests, so a resent history is not parsed and guarded
   * again: one memory all routes share (keyed by route), so its bound is the process's, whatever the routes.
   */
  readonly history: RequestHistory;
  readonly handlers: ReadonlyMap<string, HttpHandler>;
}

/** The fields of a request's audit event that a stage decides; the exchange adds who, where and when. */
export type Decision = Partial<AuditEvent> & Pick<AuditEvent, "decision">;

/** A stage's refusal: the error the client gets, and the audit event's decision (none for unreadable bodies). */
export interface LlmRefusal {
  readonly error: LlmError;
  readonly headers?: Readonly<Record<string, string>>;
  readonly audit?: Decision;
  /** The guard that refused, for the stage's span. */
  readonly guard?: string;
}

export type Counts = Record<string, number>;

/** The audit events' `method`: the endpoint the client called, so each event says which format came in. */
const ENDPOINT_METHODS: Readonly<Record<WireFormat, string>> = {
  chat: "POST /v1/chat/completions",
  messages: "POST /v1/messages",
  responses: "POST /v1/responses",
};

const NO_HEADERS: Readonly<Record<string, string>> = {};
const NO_CHARGE: SpendCharge = [];

export class Completion {
  readonly started = performance.now();
  /** The request body (`parse`), rewritten in place by the request guards. */
  body: Json = {};
  /** A chat.completions or Messages body with what the route's history memory knew of it (`parse`). */
  historyBody: HistoryBody | undefined = undefined;
  /** Every message of a chat.completions or Messages body as guarded and serialized (`guard.request`). */
  guardedMessages: EncodedMessages | undefined = undefined;
  model = "";
  stream = false;
  /** RateLimit-* headers of the admitted request (`limit`): every answer carries them. */
  limitHeaders: Readonly<Record<string, string>> = NO_HEADERS;
  /** The spend budgets the request is billed to (`spend`). */
  spendCharge: SpendCharge = NO_CHARGE;
  /** What the request guards redacted (`guard.request`). */
  requestRedactions: Counts | undefined = undefined;
  /** The post-redaction prompt, when the bundle captures prompts. */
  prompt: string | undefined = undefined;
  /** The route's providers that can take the request, translated when needed (`parse`). */
  candidates: readonly PreparedProvider[] = [];
  /** The provider that answered and its answer, committed to (`forward`). */
  provider: PreparedProvider | undefined = undefined;
  answer: UpstreamAnswer | undefined = undefined;
  /** What the answer turned out to be, once the client has it (`guard.response`), and the tokens to bill. */
  decision: Decision | undefined = undefined;
  usage: Usage | undefined = undefined;
  /** The model the provider reports it answered with, when it says (priced before the model it was sent). */
  answeredModel: string | undefined = undefined;

  constructor(
    readonly services: LlmServices,
    readonly route: CompiledRoute,
    readonly ctx: RequestContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The client's wire format: chat.completions, Anthropic Messages or OpenAI Responses. */
    readonly format: WireFormat,
  ) {
    this.flavour = errorFlavour(format);
  }

  /** The shape of the client's errors. */
  readonly flavour: ErrorFlavour;

  private traceContext: TraceContextHeaders | undefined = undefined;
  /** The trace context an untraced request sends its providers: one for every attempt of the request. */
  readonly untracedTraceContext = (): TraceContextHeaders =>
    (this.traceContext ??= untracedTraceContext(this.req.headers));

  /** Records one audit event of this request. */
  audit(event: Decision): void {
    this.services.audit.record({
      ...(this.prompt !== undefined ? { prompt: this.prompt } : {}),
      kind: "llm",
      ...auditWho(this.ctx.principal),
      route: this.route.config.id,
      requestId: this.ctx.requestId,
      traceId: this.ctx.traceId,
      latencyMs: Math.round((performance.now() - this.started) * 100) / 100,
      method: ENDPOINT_METHODS[this.format],
      ...(this.model ? { model: this.model } : {}),
      ...event,
    });
  }

  /** The headers of every answer after `limit`, with `extra`. */
  headers(extra?: Readonly<Record<string, string>>): Record<string, string> {
    return { "x-request-id": this.ctx.requestId, ...this.limitHeaders, ...extra };
  }

  /** Sends an error in the client's wire format, with the request's headers. */
  sendError(error: LlmError, headers?: Readonly<Record<string, string>>): void {
    sendLlmError(this.res, error, this.flavour, this.headers(headers));
  }
}

/** Adds `b`'s counts to `a`'s; undefined when both are empty. */
export function addCounts(a: Counts | undefined, b: Readonly<Counts> | undefined): Counts | undefined {
  if (!a && !b) return undefined;
  const out: Counts = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v;
  return Object.keys(out).length > 0 ? out : undefined;
}
