/**
 * Providers of a route, prepared at load: keys read once from their secret references, endpoint URLs
 * built once, and the headers each kind expects. The caller's `Authorization` and `x-api-key` are never
 * copied: only the headers built here reach the provider.
 */
import type { LlmProvider } from "../../policies/bundle/index.js";
import type { SecretReader } from "../http/types.js";
import { ANTHROPIC_VERSION } from "./anthropic-translate.js";

export interface PreparedProvider {
  readonly config: LlmProvider;
  readonly id: string;
  readonly kind: LlmProvider["kind"];
  /** chat.completions for OpenAI kinds, Messages for Anthropic. */
  readonly completionsUrl: string;
  /** The Responses API (OpenAI kinds). */
  readonly responsesUrl: string;
  readonly modelsUrl: string;
  mapModel(model: string): string;
  /** Headers for a JSON request; `anthropicHeaders` are the caller's anthropic-version/-beta (native route only). */
  headers(anthropicHeaders?: Readonly<Record<string, string>>): Record<string, string>;
}

export function prepareProvider(provider: LlmProvider, secrets: SecretReader): PreparedProvider {
  const apiKey = provider.apiKey ? secrets.read(provider.apiKey) : undefined;
  const base = provider.baseUrl.replace(/\/+$/, "");
  const anthropicBase = base.endsWith("/v1") ? base : `${base}/v1`;
  const isAnthropic = provider.kind === "anthropic";
  const modelMap = new Map(Object.entries(provider.modelMap));
  return {
    config: provider,
    id: provider.id,
    kind: provider.kind,
    completionsUrl: isAnthropic ? `${anthropicBase}/messages` : `${base}/chat/completions`,
    responsesUrl: `${base}/responses`,
    modelsUrl: isAnthropic ? `${anthropicBase}/models` : `${base}/models`,
    mapModel: (model) => modelMap.get(model) ?? model,
    headers(anthropicHeaders) {
      const headers: Record<string, string> = {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      };
      if (isAnthropic) {
        headers["anthropic-version"] = anthropicHeaders?.["anthropic-version"] ?? ANTHROPIC_VERSION;
        const beta = anthropicHeaders?.["anthropic-beta"];
        if (beta) headers["anthropic-beta"] = beta;
        if (apiKey) headers["x-api-key"] = apiKey;
      } else if (apiKey) {
        headers.authorization = `Bearer ${apiKey}`;
      }
      return headers;
    },
  };
}
