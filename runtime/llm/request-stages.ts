/**
 * The stages of a chat completion up to the provider's answer: read the body, limit, guard the request,
 * forward with failover. Each reads what the stages before it left on the {@link Completion} and leaves
 * its own result there, or refuses.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Json } from "../http/json.js";
import { MAX_JSON_DEPTH, nestsDeeperThan, parseJsonObject } from "../http/json.js";
import { RequestBodyTooLarge, readBody } from "../http/read-body.js";
import { type Stage, andThen } from "../http/stage.js";
import type { LimitDecision } from "../http/types.js";
import { ATTR, propagateTo, traceHeaders, tracingActive, upstreamCall } from "../observability/index.js";
import { badRequest, clientGoneError, guardBlocked, untranslatable } from "./errors.js";
import type { Completion, LlmRefusal } from "./exchange.js";
import type { EncodedMessages } from "./history/encoded-messages.js";
import type { HistoryBody } from "./history/request-history.js";
import type { RequestGuardResult } from "./request-guard.js";
import { triggerForStatus } from "./failover.js";
import type { PreparedProvider } from "./providers.js";
import { candidates, malformed, providerRequest } from "./translate/plan.js";
import {
  type StreamingAnswer,
  type UpstreamAnswer,
  type UpstreamRequest,
  type WholeAnswer,
  UpstreamUnavailable,
  discard,
  retryAfterSeconds,
} from "../http/upstream-client.js";

type CompletionStage = Stage<Completion, LlmRefusal>;

/** The body, bounded by `server.maxRequestBytes` (one over it is drained, so the 413 still arrives). */
export const parse: CompletionStage = {
  name: "parse",
  async run(x) {
    let raw: Buffer;
    try {
      raw = await readBody(x.req, x.services.maxRequestBytes);
    } catch (error) {
      return {
        error:
          error instanceof RequestBodyTooLarge
            ? { status: 413, type: "invalid_request_error", code: "request_too_large", message: error.message }
            : badRequest("the request body did not arrive whole"),
      };
    }
    let body: Json | undefined;
    let tooDeep: boolean;
    if (x.format !== "responses") {
      const read = x.route.history.read(principalKey(x), raw, x.route.requestGuard.perMessage[x.format]);
      body = read?.body.json;
      tooDeep = read?.tooDeep ?? false;
      x.historyBody = read?.body;
    } else {
      body = parseJsonObject(raw.toString("utf8"));
      tooDeep = body !== undefined && nestsDeeperThan(body);
    }
    if (!body || Array.isArray(body)) return { error: badRequest("the body is not a JSON object") };
    if (tooDeep) return { error: badRequest(`the body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`) };
    const wrong = malformed(x.format, body);
    if (wrong) return { error: badRequest(wrong) };
    x.model = body.model;
    const able = candidates(x.format, body, x.route.providers);
    if (able.providers.length === 0)
      return {
        error: untranslatable(able.refused ?? "no provider"),
        audit: { decision: "deny", reason: able.refused },
      };
    x.candidates = able.providers;
    x.body = body;
    x.stream = body.stream === true;
    return undefined;
  },
};

/** The verified subject's request budget, and its token budget must not be spent. */
export const limit: CompletionStage = {
  name: "limit",
  attributes: (x) => ({ [ATTR.ROUTE]: x.route.config.id }),
  run: (x) => andThen(x.services.limiter.admitRequest(x.ctx.principal, x.route.config.policy), (d) => admitted(x, d)),
};

function admitted(x: Completion, decision: LimitDecision): LlmRefusal | undefined {
  if (decision.allowed) {
    x.limitHeaders = decision.headers;
    return undefined;
  }
  return {
    error: {
      status: 429,
      type: "rate_limit_error",
      code: "rate_limit_exceeded",
      message: `rate limit: ${decision.reason}; retry after ${decision.retryAfterSeconds}s`,
    },
    headers: { ...decision.headers, "retry-after": String(decision.retryAfterSeconds) },
    audit: { decision: "rate-limited", rule: `limits: ${x.route.config.policy}`, reason: decision.reason },
  };
}

/** PII and prompt-injection guards on every message text, in place; a blocking guard refuses the request. */
export const guardRequest: CompletionStage = {
  name: "guard.request",
  attributes: (x) => ({ [ATTR.ROUTE]: x.route.config.id }),
  outcome: (x, refusal) =>
    refusal
      ? { [ATTR.GUARD]: refusal.guard, [ATTR.DECISION]: "block" }
      : { [ATTR.DECISION]: x.requestRedactions ? "redact" : "allow" },
  run(x) {
    const verdict = x.historyBody ? guardWithHistory(x, x.historyBody) : x.route.requestGuard.guardResponses(x.body);
    if (verdict.action === "block")
      return {
        error: guardBlocked(verdict.guard, verdict.message),
        guard: verdict.guard,
        audit: { decision: "block", rule: `guard: ${verdict.guard}` },
      };
    x.requestRedactions = verdict.redactions;
    if (x.services.capturePrompts) x.prompt = lastUserText(x.body);
    return undefined;
  },
};

/** A chat.completions or Messages body guarded through the route's history memory (only what it did not know). */
function guardWithHistory(x: Completion, body: HistoryBody): RequestGuardResult {
  const { verdict, messages } = x.route.history.guard(principalKey(x), body);
  x.guardedMessages = messages;
  return verdict;
}

/**
 * Whose history a request continues, on which route: one principal's conversations are never matched against
 * another's, nor a route's against another route's (the routes share one memory; their policies differ).
 */
const principalKey = (x: Completion): string => {
  const { issuer, subject, clientId } = x.ctx.principal;
  return `${x.route.config.id}\u0000${issuer}\u0000${subject}\u0000${clientId ?? ""}`;
};

/**
 * Where the serialized messages go in a provider body: a string no client can send, since no client sees it.
 * Its JSON form is looked up as the value of the body's `messages` member.
 */
const MESSAGES_MARKER = `\u0000tollgate-messages-${randomUUID()}`;
const MESSAGES_KEY = '"messages":';
const MARKED_MESSAGES = `${MESSAGES_KEY}${JSON.stringify(MESSAGES_MARKER)}`;

/**
 * `body` as JSON bytes, its messages copied from their guarded serializations (`body.messages` is theirs): a
 * history's bytes are encoded once, when its messages are new.
 */
function serializeWithMessages(body: Json, messages: EncodedMessages): Buffer {
  const text = JSON.stringify({ ...body, messages: MESSAGES_MARKER });
  const at = text.indexOf(MARKED_MESSAGES) + MESSAGES_KEY.length;
  const head = `${text.slice(0, at)}[`;
  const tail = `]${text.slice(at + MARKED_MESSAGES.length - MESSAGES_KEY.length)}`;
  const headBytes = Buffer.byteLength(head);
  const bytes = Buffer.allocUnsafe(headBytes + messages.byteLength + Buffer.byteLength(tail));
  bytes.write(head, 0);
  messages.writeInto(bytes, headBytes);
  bytes.write(tail, headBytes + messages.byteLength);
  return bytes;
}

const NO_ATTRIBUTES = {};
/** A provider answer that counts as an error in the upstream latency metrics. */
const providerFailed = (response: UpstreamAnswer) => response.status >= 500 || response.status === 429;

/**
 * To the route's providers in health order, failing over on the route's `failover.on` triggers (each failed
 * provider evicted for a while). Only before anything reached the client: the first provider that answers
 * otherwise is committed to, whatever its status.
 */
export const forward: CompletionStage = {
  name: "forward",
  attributes: (x) => ({ [ATTR.ROUTE]: x.route.config.id, [ATTR.GEN_AI_REQUEST_MODEL]: x.model }),
  async run(x): Promise<LlmRefusal | undefined> {
    const { route, services } = x;
    const { failover } = route.config;
    const candidates = services.health.order(x.candidates);
    let lastFailure = "no provider";
    for (const provider of candidates) {
      let answer: UpstreamAnswer;
      try {
        answer = await send(x, provider);
        // A JSON answer arrives whole (`fetchWhole`): whether it broke off is known without waiting.
        if (answer.kind === "stream") await silentBody(answer);
        else silentWholeBody(answer);
      } catch (error) {
        // The client left: its cancellation aborted the call. Not the provider's failure: no failover, no eviction.
        if (x.ctx.cancellation.clientGone) return clientGone(provider.id);
        if (!(error instanceof UpstreamUnavailable)) throw error;
        lastFailure = error.kind;
        if (!failover.on.includes(error.kind))
          return {
            error: {
              status: 502,
              type: "api_error",
              code: "upstream_unavailable",
              message: `provider "${provider.id}": ${error.kind}`,
            },
            headers: { "x-tollgate-provider": provider.id },
            audit: { decision: "error", provider: provider.id, reason: error.kind },
          };
        const seconds = services.health.evict(provider.id, failover.evictSeconds, undefined);
        x.audit({ decision: "failover", provider: provider.id, reason: `${error.kind}; evicted ${seconds}s` });
        continue;
      }
      const trigger = triggerForStatus(answer.status);
      if (trigger && failover.on.includes(trigger)) {
        await discard(answer);
        const retryAfter = retryAfterSeconds(answer.headers["retry-after"], services.now());
        const seconds = services.health.evict(provider.id, failover.evictSeconds, retryAfter);
        lastFailure = `status ${answer.status}`;
        x.audit({
          decision: "failover",
          provider: provider.id,
          reason: `status ${answer.status}; evicted ${seconds}s`,
          status: answer.status,
        });
        continue;
      }
      x.provider = provider;
      x.answer = answer;
      return undefined;
    }
    return {
      error: {
        status: 503,
        type: "api_error",
        code: "providers_unavailable",
        message: `every provider of route "${route.config.id}" failed (last: ${lastFailure}); retry later`,
      },
      headers: { "retry-after": String(services.health.secondsUntilAnyRecovers(candidates)) },
      audit: { decision: "error", reason: `every provider failed (last: ${lastFailure})` },
    };
  },
};

/** The client closed the connection while the provider was being asked (the call is aborted already). */
function clientGone(provider: string): LlmRefusal {
  return { error: clientGoneError, audit: { decision: "cancelled", provider, reason: clientGoneError.message } };
}

/**
 * A provider that sent its headers and then nothing (or dropped the connection before any byte of the body)
 * is unavailable like one that never answered: nothing reached the client yet, so the next provider may serve.
 */
async function silentBody(answer: StreamingAnswer): Promise<void> {
  const failure = await answer.body.firstRead();
  if (failure === "idle") throw new UpstreamUnavailable("timeout", "no response body in time");
  if (failure === "broken")
    throw new UpstreamUnavailable("connection-error", "connection dropped before the response body");
}

/**
 * {@link silentBody} of an answer read whole: only silence past the idle limit counts (a whole body that broke
 * off is the client's 502, as it was).
 */
function silentWholeBody(answer: WholeAnswer): void {
  if ("failure" in answer.body && answer.body.failure === "idle")
    throw new UpstreamUnavailable("timeout", "no response body in time");
}

/** One attempt at `provider`: a JSON answer is read whole as it arrives, a stream is handed over as it arrives. */
function send(x: Completion, provider: PreparedProvider): Promise<UpstreamAnswer> {
  const { route, services } = x;
  // Runs inside the upstream span: `traceHeaders` names that span as the provider's parent; untraced, the
  // client's trace context goes on as it came (or a new one starts). Every attempt carries the request's id.
  const call = (): Promise<UpstreamAnswer> => {
    const headers = traceHeaders(
      provider.headers(x.format === "messages" ? pickHeaders(x.req, ANTHROPIC_HEADERS) : undefined),
    );
    propagateTo(headers, x.ctx.requestId, x.untracedTraceContext);
    const target = providerRequest(x.format, x.body, provider, x.stream);
    const request: UpstreamRequest = {
      url: target.url,
      method: "POST",
      headers,
      body:
        x.guardedMessages && target.body.messages === x.body.messages
          ? serializeWithMessages(target.body, x.guardedMessages)
          : JSON.stringify(target.body),
      timeoutMs: provider.config.timeoutMs,
      idleMs: route.config.idleTimeoutMs,
      cancellation: x.ctx.cancellation,
    };
    return x.stream
      ? services.upstream.send(request)
      : services.upstream.fetchWhole({ ...request, maxBytes: route.config.maxResponseBytes });
  };
  // The upstream span's GenAI attributes, built only for a span.
  const genAi = tracingActive()
    ? {
        [ATTR.GEN_AI_SYSTEM]: provider.kind,
        [ATTR.GEN_AI_PROVIDER_NAME]: provider.kind,
        [ATTR.GEN_AI_OPERATION_NAME]: "chat",
        [ATTR.GEN_AI_REQUEST_MODEL]: x.model,
        [ATTR.PROVIDER]: provider.id,
      }
    : NO_ATTRIBUTES;
  return upstreamCall("llm", route.config.id, provider.id, genAi, call, providerFailed, services.metrics);
}

const ANTHROPIC_HEADERS = ["anthropic-version", "anthropic-beta"];

/** The last user message's text (after the request guards ran on it). */
function lastUserText(body: Json): string {
  if (typeof body.input === "string") return body.input;
  const messages = Array.isArray(body.messages)
    ? (body.messages as Json[])
    : Array.isArray(body.input)
      ? (body.input as Json[])
      : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const content = messages[i]?.role === "user" ? messages[i]?.content : undefined;
    if (typeof content === "string") return content;
    if (Array.isArray(content))
      return (content as Json[]).map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  }
  return "";
}

export function pickHeaders(req: IncomingMessage, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}
