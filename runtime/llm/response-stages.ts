/**
 * The stages of a chat completion after the provider answered: guard the response while it goes to the
 * client (the credential-leak guard, streams included), then record the decision and bill the tokens.
 */
import { createStreamingCredentialScanner } from "../../policies/guards/index.js";
import type { Json } from "../http/json.js";
import { parseJsonObject } from "../http/json.js";
import { type Stage, andThen } from "../http/stage.js";
import { ATTR } from "../observability/index.js";
import type { AuditDecision } from "../observability/audit.js";
import { billableTokens } from "../limits/billing.js";
import { NO_USAGE, usageAuditFields } from "./usage.js";
import { toUsd } from "../../policies/spend/index.js";
import { CLIENT_CLOSED_REQUEST, clientGoneError, responseGuardBlocked } from "./errors.js";
import { billSpend, spendCost } from "./spend-stage.js";
import { type Completion, type LlmRefusal, addCounts } from "./exchange.js";
import type { PreparedProvider } from "./providers.js";
import { relayAnthropicAsOpenAi, relayAnthropicNative } from "./stream/anthropic-relay.js";
import { REASONING_FIELDS, relayOpenAiStream } from "./stream/openai-relay.js";
import type { RelayOptions, StreamOutcome } from "./stream/relay.js";
import { ChatStreamReader } from "./stream/chat-reader.js";
import { MessagesStreamReader } from "./stream/messages-reader.js";
import { MessagesStreamWriter } from "./stream/messages-writer.js";
import { relayResponsesNative } from "./stream/responses-relay.js";
import { ResponsesStreamWriter } from "./stream/responses-writer.js";
import { relayTranslated } from "./stream/translated-relay.js";
import { type WireFormat, wireFor } from "./translate/formats.js";
import { answerUsage, clientAnswer, clientError } from "./translate/plan.js";
import { sseEvent } from "./stream/sse.js";
import { type StreamingAnswer, type UpstreamAnswer, readWhole } from "../http/upstream-client.js";

type CompletionStage = Stage<Completion, LlmRefusal>;

/**
 * Sends the committed provider's answer to the client in the client's wire format, the response guard
 * running on it as it goes; leaves on the exchange what to record. Never refuses: by now the answer (or
 * the guard's refusal of it) is the client's response.
 */
export const guardResponse: CompletionStage = {
  name: "guard.response",
  attributes: (x) => ({ [ATTR.PROVIDER]: x.provider?.id, [ATTR.GEN_AI_REQUEST_MODEL]: x.model }),
  async run(x) {
    const provider = x.provider as PreparedProvider;
    const answer = x.answer as UpstreamAnswer;
    const contentType = String(answer.headers["content-type"] ?? "");
    if (answer.status >= 400) await relayProviderError(x, provider, answer);
    else if (answer.kind === "stream" && contentType.includes("text/event-stream"))
      await relayStream(x, provider, answer);
    else await sendJson(x, provider, answer);
    return undefined;
  },
};

/**
 * One audit event for the request's decision with the answer's cost, then its tokens and its cost billed
 * (from the provider's usage).
 */
export const record: CompletionStage = {
  name: "record",
  run(x) {
    const cost = spendCost(x);
    if (x.decision) x.audit(cost === undefined ? x.decision : { ...x.decision, costUsd: toUsd(cost) });
    const tokens = billableTokens(x.usage ?? NO_USAGE);
    const billed =
      tokens > 0 ? x.services.limiter.recordTokens(x.ctx.principal, x.route.config.policy, tokens) : undefined;
    return andThen(billed, () => andThen(billSpend(x, cost), nothing));
  },
};

const nothing = () => undefined;

/** A provider's error that is not a failover trigger (4xx): relayed in the client's shape. */
async function relayProviderError(x: Completion, provider: PreparedProvider, answer: UpstreamAnswer): Promise<void> {
  const whole = await readWhole(answer, x.route.config.maxResponseBytes);
  let text = "bytes" in whole ? whole.bytes.toString("utf8") : "{}";
  const translated = clientError(x.format, wireFor(x.format, provider.kind), parseJsonObject(text), answer.status);
  if (translated) text = JSON.stringify(translated);
  x.decision = {
    decision: "error",
    provider: provider.id,
    status: answer.status,
    reason: "provider refused the request",
  };
  x.res.writeHead(answer.status, {
    ...x.headers({ "x-tollgate-provider": provider.id }),
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  x.res.end(text);
}

async function relayStream(x: Completion, provider: PreparedProvider, answer: StreamingAnswer): Promise<void> {
  const { res } = x;
  res.writeHead(200, {
    ...x.headers({ "x-tollgate-provider": provider.id }),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
  // No flushHeaders(): the status line goes out with the first event, which follows at once.
  const { credentialLeak: leak, streamingPii } = x.route.policy;
  const options: RelayOptions = {
    res,
    body: answer.body,
    newScanner:
      leak || streamingPii
        ? () =>
            createStreamingCredentialScanner(
              leak ? { mode: leak.mode, holdBackChars: leak.holdBackChars } : undefined,
              streamingPii,
            )
        : undefined,
    clientWantsUsage: x.body.stream_options?.include_usage === true,
  };
  const outcome = await relayFor(x.format, wireFor(x.format, provider.kind), options, x.services.now());
  if (outcome.blocked || outcome.broken) answer.body.destroy();
  if (outcome.broken && !outcome.blocked) abortStream(x);
  else if (!res.writableEnded) res.end();
  const redactions = addCounts(x.requestRedactions, outcome.redactions);
  // The stream broke because the client closed the connection (its cancellation aborted the provider's call).
  const cancelled = outcome.broken && !outcome.blocked && x.ctx.cancellation.clientGone;
  x.usage = outcome.usage;
  x.answeredModel = outcome.model;
  x.decision = {
    decision: streamDecision(outcome, cancelled, redactions !== undefined),
    provider: provider.id,
    status: 200,
    ...(outcome.blocked ? { rule: `guard: ${outcome.blocked.guard}` } : {}),
    ...(outcome.broken ? { reason: cancelled ? clientGoneError.message : "stream ended early" } : {}),
    ...(redactions ? { redactions } : {}),
    ...(outcome.usage ? usageAuditFields(outcome.usage) : {}),
  };
}

/** The relay from a provider speaking `wire` to a client of `format`. */
function relayFor(format: WireFormat, wire: WireFormat, options: RelayOptions, now: number): Promise<StreamOutcome> {
  if (format === wire) {
    if (format === "chat") return relayOpenAiStream(options);
    return format === "messages" ? relayAnthropicNative(options) : relayResponsesNative(options);
  }
  if (format === "chat") return relayAnthropicAsOpenAi(options);
  const reader = wire === "messages" ? new MessagesStreamReader() : new ChatStreamReader();
  return format === "messages"
    ? relayTranslated(options, "anthropic", reader, new MessagesStreamWriter())
    : relayTranslated(options, "openai", reader, new ResponsesStreamWriter(Math.floor(now / 1000)));
}

/**
 * The provider's stream broke off (connection reset, idle past the route's limit, or the gateway shutting
 * down): the client gets an error event in its wire format, then the response is aborted without its
 * final chunk, so no client can take the partial answer for a complete one.
 */
function abortStream(x: Completion): void {
  const { res } = x;
  if (res.writableEnded || res.destroyed) return;
  const error = { type: "api_error", code: "upstream_stream_broken", message: "the provider's stream broke off" };
  const event =
    x.flavour === "anthropic"
      ? sseEvent(JSON.stringify({ type: "error", error }), "error")
      : sseEvent(JSON.stringify({ error: { ...error, param: null } }));
  res.write(event, () => res.destroy());
}

/** A JSON answer: parsed, translated when needed, its texts guarded, sent whole. */
/** A relayed stream's audit decision: a refusal first, then a client that left, then what the guards did. */
function streamDecision(outcome: StreamOutcome, cancelled: boolean, redacted: boolean): AuditDecision {
  if (outcome.blocked) return "block";
  if (cancelled) return "cancelled";
  if (redacted) return "redact";
  return outcome.broken ? "error" : "allow";
}

async function sendJson(x: Completion, provider: PreparedProvider, answer: UpstreamAnswer): Promise<void> {
  const { route } = x;
  const headers = { "x-tollgate-provider": provider.id };
  const whole = answer.kind === "whole" ? answer.body : await readWhole(answer, route.config.maxResponseBytes);
  if ("failure" in whole && x.ctx.cancellation.clientGone) {
    // The client left while the answer arrived: its cancellation aborted the provider's call.
    x.decision = {
      decision: "cancelled",
      provider: provider.id,
      status: CLIENT_CLOSED_REQUEST,
      reason: clientGoneError.message,
    };
    return;
  }
  if ("failure" in whole) {
    const tooLarge = whole.failure === "too-large";
    x.decision = {
      decision: "error",
      provider: provider.id,
      status: 502,
      reason: tooLarge ? "response too large" : "response body failed",
    };
    x.sendError(
      {
        status: 502,
        type: "api_error",
        code: tooLarge ? "response_too_large" : "upstream_error",
        message: tooLarge
          ? `provider response over ${route.config.maxResponseBytes} bytes`
          : "provider response failed",
      },
      headers,
    );
    return;
  }
  const rawText = whole.bytes.toString("utf8");
  const parsed = parseJsonObject(rawText);
  if (!parsed) {
    x.decision = { decision: "error", provider: provider.id, status: 502, reason: "provider answered non-JSON" };
    x.sendError(
      {
        status: 502,
        type: "api_error",
        code: "upstream_error",
        message: "provider answered with something other than JSON",
      },
      headers,
    );
    return;
  }
  const wire = wireFor(x.format, provider.kind);
  const translate = wire !== x.format;
  const usage = answerUsage(wire, parsed);
  const payload = clientAnswer(x.format, wire, parsed, usage, x.services.now());
  x.usage = usage;
  if (typeof parsed.model === "string") x.answeredModel = parsed.model;
  const tokens = usageAuditFields(usage);

  let changed = translate;
  let responseRedactions: Record<string, number> | undefined;
  if (route.policy.guardsResponses) {
    for (const { get, set } of TEXTS[x.format](payload)) {
      // Awaited only when the guard had to wait: most verdicts are there at once (cached, or a quick scan).
      const answered = route.policy.guardResponseText(get());
      const verdict = answered instanceof Promise ? await answered : answered;
      if (verdict.action === "block") {
        x.decision = {
          decision: "block",
          provider: provider.id,
          rule: `guard: ${verdict.guard}`,
          status: 403,
          ...tokens,
        };
        x.sendError(responseGuardBlocked(verdict.guard, verdict.message), headers);
        return;
      }
      if (verdict.redactions) responseRedactions = addCounts(responseRedactions, verdict.redactions);
      if (verdict.value !== get()) {
        set(verdict.value);
        changed = true;
      }
    }
  }
  // A string body leaves with the status line and headers in one write (a Buffer would make it a writev of two).
  const text = changed ? JSON.stringify(payload) : rawText;
  // The request's headers object is fresh: completed in place rather than copied into another.
  const responseHeaders = x.headers(headers);
  responseHeaders["content-type"] = "application/json";
  responseHeaders["content-length"] = String(Buffer.byteLength(text));
  x.res.writeHead(200, responseHeaders);
  x.res.end(text);
  const redactions = addCounts(x.requestRedactions, responseRedactions);
  x.decision = {
    decision: redactions ? "redact" : "allow",
    provider: provider.id,
    status: 200,
    ...(redactions ? { redactions } : {}),
    ...tokens,
  };
}

type TextSlot = { get(): string; set(value: string): void };

/** The texts of an answer in each client format that the response guard reads. */
const TEXTS: Readonly<Record<WireFormat, (payload: Json) => TextSlot[]>> = {
  chat: chatTexts,
  messages: anthropicTexts,
  responses: responsesTexts,
};

function responsesTexts(payload: Json): TextSlot[] {
  const slots: TextSlot[] = [];
  for (const item of (Array.isArray(payload.output) ? payload.output : []) as Json[]) {
    if (item?.type === "function_call" && typeof item.arguments === "string")
      slots.push({ get: () => item.arguments, set: (v) => (item.arguments = v) });
    for (const part of (item?.type === "message" && Array.isArray(item.content) ? item.content : []) as Json[]) {
      if (typeof part?.text === "string") slots.push({ get: () => part.text, set: (v) => (part.text = v) });
      else if (typeof part?.refusal === "string")
        slots.push({ get: () => part.refusal, set: (v) => (part.refusal = v) });
    }
    // A reasoning item's summary and raw reasoning text reach the client as the model wrote them.
    if (item?.type !== "reasoning") continue;
    for (const part of [
      ...(Array.isArray(item.summary) ? item.summary : []),
      ...(Array.isArray(item.content) ? item.content : []),
    ] as Json[])
      if (typeof part?.text === "string") slots.push({ get: () => part.text, set: (v) => (part.text = v) });
  }
  return slots;
}

function chatTexts(payload: Json): TextSlot[] {
  const slots: TextSlot[] = [];
  for (const choice of (payload.choices ?? []) as Json[]) {
    const message = choice?.message;
    if (message && typeof message.content === "string")
      slots.push({ get: () => message.content, set: (v) => (message.content = v) });
    for (const field of REASONING_FIELDS)
      if (message && typeof message[field] === "string")
        slots.push({ get: () => message[field], set: (v) => (message[field] = v) });
    for (const call of (message?.tool_calls ?? []) as Json[]) {
      if (call?.function && typeof call.function.arguments === "string")
        slots.push({ get: () => call.function.arguments, set: (v) => (call.function.arguments = v) });
    }
  }
  return slots;
}

function anthropicTexts(payload: Json): TextSlot[] {
  const slots: TextSlot[] = [];
  for (const block of (payload.content ?? []) as Json[]) {
    if (block?.type === "text" && typeof block.text === "string")
      slots.push({ get: () => block.text, set: (v: string) => (block.text = v) });
    else if (block?.type === "thinking" && typeof block.thinking === "string")
      slots.push({ get: () => block.thinking, set: (v: string) => (block.thinking = v) });
    else if (block?.type === "tool_use" && block.input && typeof block.input === "object")
      stringSlots(block.input, slots, 0);
  }
  return slots;
}

/** Every string leaf of a JSON value (tool input), as slots. */
function stringSlots(node: Json, slots: TextSlot[], depth: number): void {
  if (depth > 32) return;
  for (const key of Object.keys(node)) {
    const value: unknown = node[key];
    if (typeof value === "string") slots.push({ get: () => node[key], set: (v: string) => (node[key] = v) });
    else if (value && typeof value === "object") stringSlots(value as Json, slots, depth + 1);
  }
}
