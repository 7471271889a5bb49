/**
 * Anthropic Messages → chat.completions, for an Anthropic client (the Anthropic SDK, Claude Code) served by
 * an OpenAI-kind provider: the request (system prompt, text, images, tools, tool use and tool results),
 * the answer (text, tool calls, stop reason, usage with cache reads) and errors. What chat.completions
 * cannot carry is named by {@link messagesUntranslatable} before anything is sent; prompt-cache hints
 * (`cache_control`) and routing hints are dropped (OpenAI caches prompts by itself).
 */
import type { Json } from "../../http/json.js";
import { parseArguments } from "../anthropic-translate.js";
import type { Usage } from "../usage.js";
import { chatFunctionTools, copySampling } from "./chat-request.js";

/** Members of a Messages request and what becomes of them for chat.completions. */
const TRANSLATED = new Set([
  "model",
  "messages",
  "max_tokens",
  "system",
  "stop_sequences",
  "stream",
  "temperature",
  "top_p",
  "tools",
  "tool_choice",
]);
/** Hints that change nothing a chat.completions provider could honour: dropped. */
const DROPPED = new Set(["metadata", "service_tier", "cache_control", "speed", "inference_geo", "diagnostics"]);

/** Stop reasons of chat.completions (`finish_reason`) in Messages' words. */
const STOP_REASONS: Readonly<Record<string, string>> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

export function stopReasonOfFinish(finish: unknown): string {
  return (typeof finish === "string" && STOP_REASONS[finish]) || "end_turn";
}

const isSet = (value: unknown): boolean => value !== undefined && value !== null;

/**
 * Why this Messages request cannot go to a chat.completions provider, naming the field; undefined when
 * it can. Untranslatable: extended thinking, Anthropic's server tools and containers, documents, search
 * results and thinking blocks, file-referenced images, images inside tool results, `top_k`, output formats,
 * and any member this gateway does not know.
 */
export function messagesUntranslatable(body: Json): string | undefined {
  for (const key of Object.keys(body)) {
    if (TRANSLATED.has(key) || DROPPED.has(key)) continue;
    if (key === "thinking" && (!isSet(body.thinking) || body.thinking?.type === "disabled")) continue;
    if (!isSet(body[key])) continue;
    return `\`${key}\` has no chat.completions equivalent`;
  }
  if (Array.isArray(body.tools)) {
    for (const [i, tool] of (body.tools as Json[]).entries()) {
      if (!tool || typeof tool !== "object" || typeof tool.name !== "string")
        return `\`tools[${i}]\` is not a tool with a name`;
      if (isSet(tool.type) && tool.type !== "custom")
        return `\`tools[${i}].type\` "${String(tool.type)}" is an Anthropic server tool`;
    }
  }
  if (Array.isArray(body.system)) {
    for (const [i, block] of (body.system as Json[]).entries())
      if (block?.type !== "text") return `\`system[${i}].type\` must be "text"`;
  }
  for (const [i, message] of (Array.isArray(body.messages) ? (body.messages as Json[]) : []).entries()) {
    if (message?.role !== "user" && message?.role !== "assistant")
      return `\`messages[${i}].role\` must be user or assistant`;
    if (typeof message.content === "string") continue;
    if (!Array.isArray(message.content)) return `\`messages[${i}].content\` must be a string or an array of blocks`;
    for (const [j, block] of (message.content as Json[]).entries()) {
      const field = `messages[${i}].content[${j}]`;
      const why = blockUntranslatable(block, message.role, field);
      if (why) return why;
    }
  }
  return undefined;
}

function blockUntranslatable(block: Json, role: string, field: string): string | undefined {
  switch (block?.type) {
    case "text":
      return undefined;
    case "image":
      if (role !== "user") return `\`${field}\`: an image in an assistant turn`;
      return block.source?.type === "base64" || block.source?.type === "url"
        ? undefined
        : `\`${field}.source.type\` "${String(block.source?.type)}" (only base64 and url images translate)`;
    case "tool_use":
      return role === "assistant" ? undefined : `\`${field}\`: tool_use outside an assistant turn`;
    case "tool_result": {
      if (role !== "user") return `\`${field}\`: tool_result outside a user turn`;
      if (typeof block.content === "string" || !isSet(block.content)) return undefined;
      if (!Array.isArray(block.content)) return `\`${field}.content\` must be a string or text blocks`;
      for (const [k, part] of (block.content as Json[]).entries())
        if (part?.type !== "text") return `\`${field}.content[${k}].type\` "${String(part?.type)}" in a tool result`;
      return undefined;
    }
    default:
      return `\`${field}.type\` "${String(block?.type)}"`;
  }
}

const textOfBlocks = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? (content as Json[]).map((b) => (typeof b?.text === "string" ? b.text : "")).join("")
      : "";

function imagePart(block: Json): Json {
  const source = block.source ?? {};
  const url = source.type === "base64" ? `data:${source.media_type};base64,${source.data}` : source.url;
  return { type: "image_url", image_url: { url } };
}

/** A Messages request (checked by {@link messagesUntranslatable}) as a chat.completions request for `model`. */
export function messagesToChatRequest(body: Json, model: string): Json {
  const messages: Json[] = [];
  const system = textOfBlocks(body.system);
  if (system) messages.push({ role: "system", content: system });
  for (const message of body.messages as Json[]) {
    if (typeof message.content === "string") {
      messages.push({ role: message.role, content: message.content });
      continue;
    }
    const blocks = message.content as Json[];
    if (message.role === "assistant") {
      const text = blocks
        .filter((b) => b.type === "text")
        .map((b) => String(b.text ?? ""))
        .join("");
      const calls = blocks
        .filter((b) => b.type === "tool_use")
        .map((b) => ({
          id: b.id,
          type: "function",
          function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        }));
      messages.push({ role: "assistant", content: text || null, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
      continue;
    }
    // A user turn: tool results become tool messages (chat wants them right after the assistant's calls),
    // then the rest of the turn, as one user message.
    const parts: Json[] = [];
    for (const block of blocks) {
      if (block.type === "tool_result") {
        const text = textOfBlocks(block.content);
        messages.push({
          role: "tool",
          tool_call_id: block.tool_use_id,
          content: block.is_error ? `Error: ${text}` : text,
        });
      } else if (block.type === "text") parts.push({ type: "text", text: String(block.text ?? "") });
      else if (block.type === "image") parts.push(imagePart(block));
    }
    if (parts.length > 0)
      messages.push({
        role: "user",
        content: parts.every((p) => p.type === "text") ? parts.map((p) => p.text).join("") : parts,
      });
  }
  const out: Json = { model, messages, max_completion_tokens: body.max_tokens };
  copySampling(body, out);
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) out.stop = body.stop_sequences;
  const tools = chatFunctionTools(body.tools, (t) => t.input_schema);
  if (tools) out.tools = tools;
  const choice = body.tool_choice;
  if (choice && typeof choice === "object" && out.tools) {
    if (choice.type === "auto") out.tool_choice = "auto";
    else if (choice.type === "any") out.tool_choice = "required";
    else if (choice.type === "none") out.tool_choice = "none";
    else if (choice.type === "tool") out.tool_choice = { type: "function", function: { name: choice.name } };
    if (choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  }
  return out;
}

/** Messages `usage` for `usage`: `input_tokens` is the uncached rest, as Anthropic reports it. */
export function messagesUsage(usage: Usage): Json {
  return {
    input_tokens: Math.max(0, usage.input - usage.cachedInput - usage.cacheCreationInput),
    output_tokens: usage.output,
    cache_read_input_tokens: usage.cachedInput,
    cache_creation_input_tokens: usage.cacheCreationInput,
  };
}

/** A chat.completion as a Messages answer, with `usage` (read from the provider's own wire format). */
export function chatToMessagesResponse(chat: Json, usage: Usage): Json {
  const choice = (Array.isArray(chat.choices) ? chat.choices[0] : undefined) ?? {};
  const message = choice.message ?? {};
  const content: Json[] = [];
  const text = typeof message.content === "string" ? message.content : textOfBlocks(message.content);
  if (text) content.push({ type: "text", text });
  if (typeof message.refusal === "string" && message.refusal) content.push({ type: "text", text: message.refusal });
  for (const call of (Array.isArray(message.tool_calls) ? message.tool_calls : []) as Json[])
    content.push({
      type: "tool_use",
      id: call.id,
      name: call.function?.name,
      input: parseArguments(call.function?.arguments),
    });
  return {
    id: typeof chat.id === "string" ? chat.id : "msg_translated",
    type: "message",
    role: "assistant",
    model: chat.model,
    content,
    stop_reason: message.refusal ? "refusal" : stopReasonOfFinish(choice.finish_reason),
    stop_sequence: null,
    usage: messagesUsage(usage),
  };
}

/** Anthropic's error type for an HTTP status. */
export function anthropicErrorType(status: number): string {
  if (status === 400 || status === 422) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  return "api_error";
}

/** An OpenAI-shaped error body as Anthropic's `{type: "error", error: {type, message}}`. */
export function openAiErrorToAnthropic(body: Json | undefined, status: number): Json {
  const message = body?.error?.message;
  return {
    type: "error",
    error: {
      type: anthropicErrorType(status),
      message: typeof message === "string" ? message : `provider answered ${status}`,
    },
  };
}

/** An OpenAI models list in Anthropic's shape (an Anthropic client of an OpenAI-kind provider). */
export function openAiModelsToAnthropic(list: Json): Json {
  const data = ((Array.isArray(list.data) ? list.data : []) as Json[]).map((m) => ({
    type: "model",
    id: m.id,
    display_name: m.id,
    created_at: new Date((typeof m.created === "number" ? m.created : 0) * 1000).toISOString(),
  }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
