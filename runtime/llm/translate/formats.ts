/**
 * The wire formats a client may speak to an LLM route and a provider may be sent, and which one each
 * provider is sent for each client: the client's own format when the provider speaks it (no translation),
 * else the closest one it does speak. chat.completions is the pivot: every provider kind speaks it or is
 * translated from it (Anthropic, by ../anthropic-translate.ts).
 */
import type { LlmProvider } from "../../../policies/bundle/index.js";
import type { ErrorFlavour } from "../errors.js";

/** `chat`: OpenAI chat.completions; `messages`: Anthropic Messages; `responses`: OpenAI Responses. */
export type WireFormat = "chat" | "messages" | "responses";

/** The endpoint a client format is served at, under the route's prefix. */
export const ENDPOINTS: Readonly<Record<WireFormat, string>> = {
  chat: "/v1/chat/completions",
  messages: "/v1/messages",
  responses: "/v1/responses",
};

/** The shape of the errors a client of `format` reads. */
export const errorFlavour = (format: WireFormat): ErrorFlavour => (format === "messages" ? "anthropic" : "openai");

/**
 * What a provider of `kind` is sent for a client of `format`: Anthropic providers speak Messages; OpenAI
 * itself speaks Responses and chat.completions; an OpenAI-compatible server is only trusted with
 * chat.completions (vLLM, Ollama and the like differ in how much of Responses they serve).
 */
export function wireFor(format: WireFormat, kind: LlmProvider["kind"]): WireFormat {
  if (kind === "anthropic") return "messages";
  return format === "responses" && kind === "openai" ? "responses" : "chat";
}
