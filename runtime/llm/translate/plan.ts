/**
 * Per request: whether a body is a request of the client's format, which providers can take it (translated
 * when they speak another format), the provider request, and the provider's answer and errors in the
 * client's format. Pure functions over the JSON; the request and response stages call them.
 */
import type { Json } from "../../http/json.js";
import { anthropicErrorToOpenAi, chatToMessagesRequest, messagesToChatResponse } from "../anthropic-translate.js";
import type { PreparedProvider } from "../providers.js";
import { type Usage, anthropicUsage, openAiUsage, responsesWireUsage } from "../usage.js";
import { type WireFormat, wireFor } from "./formats.js";
import {
  chatToMessagesResponse,
  messagesToChatRequest,
  messagesUntranslatable,
  openAiErrorToAnthropic,
} from "./messages-chat.js";
import { chatToResponse, responsesToChatRequest, responsesUntranslatable } from "./responses-chat.js";

/** What is wrong with the body as a request of `format` (whatever the provider), else undefined. */
export function malformed(format: WireFormat, body: Json): string | undefined {
  if (typeof body.model !== "string") return "expected a JSON body with a string `model`";
  if (format === "responses") {
    const input: unknown = body.input;
    return input === undefined || typeof input === "string" || Array.isArray(input)
      ? undefined
      : "`input` must be a string or an array of items";
  }
  if (!Array.isArray(body.messages)) return "expected a JSON body with a string `model` and a `messages` array";
  if (format === "messages" && typeof body.max_tokens !== "number") return "`max_tokens` must be a number";
  return undefined;
}

/** Why a request of `format` cannot be sent as `wire`, naming the field; undefined when it can. */
export function untranslatable(format: WireFormat, wire: WireFormat, body: Json): string | undefined {
  if (format === wire || format === "chat") return undefined;
  if (format === "messages") return messagesUntranslatable(body);
  return responsesUntranslatable(body, wire === "messages");
}

export interface Candidates {
  /** The providers that can take the request, in route order. */
  readonly providers: readonly PreparedProvider[];
  /** Why the first provider left out could not (when every one was left out, the client's 400). */
  readonly refused: string | undefined;
}

/** The route's providers that can take this request of `format`. */
export function candidates(format: WireFormat, body: Json, providers: readonly PreparedProvider[]): Candidates {
  // chat.completions reaches every kind as it always has (../anthropic-translate.ts refuses nothing).
  if (format === "chat") return { providers, refused: undefined };
  let refused: string | undefined;
  const able: PreparedProvider[] = [];
  const byWire = new Map<WireFormat, string | undefined>();
  for (const provider of providers) {
    const wire = wireFor(format, provider.kind);
    if (!byWire.has(wire)) byWire.set(wire, untranslatable(format, wire, body));
    const why = byWire.get(wire);
    if (why === undefined) able.push(provider);
    else refused ??= `${why}: provider "${provider.id}" (${provider.kind}) cannot take it`;
  }
  return { providers: able, refused };
}

/** The request for one provider: where it goes and its body (model mapped, translated when needed). */
export function providerRequest(
  format: WireFormat,
  body: Json,
  provider: PreparedProvider,
  stream: boolean,
): { url: string; body: Json } {
  const model = provider.mapModel(body.model);
  const wire = wireFor(format, provider.kind);
  if (wire === "responses") return { url: provider.responsesUrl, body: { ...body, model } };
  if (wire === "messages")
    return {
      url: provider.completionsUrl,
      body:
        format === "messages"
          ? { ...body, model }
          : chatToMessagesRequest(format === "chat" ? body : responsesToChatRequest(body, model), model),
    };
  const chat =
    format === "chat"
      ? { ...body, model }
      : format === "messages"
        ? messagesToChatRequest(body, model)
        : responsesToChatRequest(body, model);
  // Usage is billed from the provider's report: OpenAI-style streams carry it only when asked.
  if (stream) chat.stream_options = { ...(chat.stream_options ?? {}), include_usage: true };
  return { url: provider.completionsUrl, body: chat };
}

/** The usage a provider speaking `wire` reported in a JSON answer. */
export function answerUsage(wire: WireFormat, answer: Json): Usage {
  if (wire === "messages") return anthropicUsage(answer.usage);
  if (wire === "responses") return responsesWireUsage(answer.usage);
  return openAiUsage(answer.usage);
}

/** The provider's JSON answer in the client's format (`answer` itself when no translation is needed). */
export function clientAnswer(format: WireFormat, wire: WireFormat, answer: Json, usage: Usage, now: number): Json {
  if (format === wire) return answer;
  const created = Math.floor(now / 1000);
  const chat = wire === "messages" ? messagesToChatResponse(answer, created) : answer;
  if (format === "chat") return chat;
  if (format === "messages") return chatToMessagesResponse(chat, usage);
  return chatToResponse(chat, usage, created);
}

/** A provider's error body in the client's shape, or undefined when it already is. */
export function clientError(
  format: WireFormat,
  wire: WireFormat,
  body: Json | undefined,
  status: number,
): Json | undefined {
  const clientIsAnthropic = format === "messages";
  const providerIsAnthropic = wire === "messages";
  if (clientIsAnthropic === providerIsAnthropic) return undefined;
  return clientIsAnthropic ? openAiErrorToAnthropic(body, status) : anthropicErrorToOpenAi(body, status);
}
