/**
 * OpenAI Responses → chat.completions, for a Responses client (the openai SDK's `responses.create`, agent
 * frameworks) served by a provider that does not speak Responses: the request (instructions, input items,
 * function tools, function calls and their outputs), the answer (output items, status, usage with cached
 * tokens) and the other way for errors. Server-side state (`previous_response_id`, `conversation`, stored
 * prompts), built-in tools and file inputs cannot be translated and are named by
 * {@link responsesUntranslatable}. An Anthropic provider gets the chat request translated once more
 * (../anthropic-translate.ts).
 */
import type { Json } from "../../http/json.js";
import type { Usage } from "../usage.js";
import { chatFunctionTools, copySampling } from "./chat-request.js";

const TRANSLATED = new Set([
  "model",
  "input",
  "instructions",
  "max_output_tokens",
  "stream",
  "temperature",
  "top_p",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "text",
  "reasoning",
]);
/**
 * Dropped: storage and caching hints (a translated response is never stored: a later `previous_response_id`
 * naming it is refused), identifiers for abuse monitoring, and options about the response's own shape.
 */
const DROPPED = new Set([
  "store",
  "metadata",
  "user",
  "safety_identifier",
  "prompt_cache_key",
  "prompt_cache_retention",
  "service_tier",
  "include",
  "stream_options",
  "truncation",
]);

const isSet = (value: unknown): boolean => value !== undefined && value !== null;

/**
 * Why this Responses request cannot be sent as chat.completions (and, `toAnthropic`, on to Anthropic
 * Messages), naming the field; undefined when it can.
 */
export function responsesUntranslatable(body: Json, toAnthropic: boolean): string | undefined {
  for (const key of Object.keys(body)) {
    if (TRANSLATED.has(key) || DROPPED.has(key)) continue;
    if (key === "background" && body.background !== true) continue;
    if (!isSet(body[key])) continue;
    if (key === "previous_response_id" || key === "conversation")
      return `\`${key}\` needs the provider's stored conversation; send the whole conversation as \`input\` instead`;
    return `\`${key}\` has no equivalent outside OpenAI's Responses API`;
  }
  if (isSet(body.input) && typeof body.input !== "string" && !Array.isArray(body.input))
    return "`input` must be a string or an array of items";
  if (isSet(body.instructions) && typeof body.instructions !== "string") return "`instructions` must be a string";
  for (const [i, item] of (Array.isArray(body.input) ? (body.input as Json[]) : []).entries()) {
    const why = itemUntranslatable(item, `input[${i}]`);
    if (why) return why;
  }
  for (const [i, tool] of (Array.isArray(body.tools) ? (body.tools as Json[]) : []).entries()) {
    if (tool?.type !== "function") return `\`tools[${i}].type\` "${String(tool?.type)}" is a built-in tool of OpenAI`;
    if (typeof tool.name !== "string") return `\`tools[${i}].name\` must be a string`;
  }
  const choice = body.tool_choice;
  if (isSet(choice) && typeof choice !== "string" && choice?.type !== "function")
    return `\`tool_choice.type\` "${String(choice?.type)}"`;
  const format = body.text?.format?.type;
  if (isSet(format) && format !== "text" && (toAnthropic || (format !== "json_schema" && format !== "json_object")))
    return `\`text.format.type\` "${String(format)}"`;
  if (isSet(body.reasoning) && (toAnthropic || Object.keys(body.reasoning).some((k) => k !== "effort")))
    return "`reasoning`";
  return undefined;
}

function itemUntranslatable(item: Json, field: string): string | undefined {
  const type = item?.type ?? (typeof item?.role === "string" ? "message" : undefined);
  switch (type) {
    case "message": {
      if (!["user", "assistant", "system", "developer"].includes(item.role)) return `\`${field}.role\``;
      if (typeof item.content === "string") return undefined;
      if (!Array.isArray(item.content)) return `\`${field}.content\` must be a string or an array of parts`;
      for (const [j, part] of (item.content as Json[]).entries()) {
        const partField = `${field}.content[${j}]`;
        if (part?.type === "input_text" || part?.type === "output_text" || part?.type === "refusal") continue;
        if (part?.type === "input_image") {
          if (typeof part.image_url === "string") continue;
          return `\`${partField}.file_id\`: an image by file id is stored at OpenAI; send \`image_url\` instead`;
        }
        if (part?.type === "input_file") return `\`${partField}\`: a file input (input_file)`;
        return `\`${partField}.type\` "${String(part?.type)}"`;
      }
      return undefined;
    }
    case "function_call":
      return typeof item.call_id === "string" && typeof item.name === "string"
        ? undefined
        : `\`${field}\`: a function_call needs \`call_id\` and \`name\``;
    case "function_call_output":
      if (typeof item.call_id !== "string") return `\`${field}.call_id\` must be a string`;
      if (typeof item.output === "string") return undefined;
      if (Array.isArray(item.output) && (item.output as Json[]).every((p) => p?.type === "input_text"))
        return undefined;
      return `\`${field}.output\`: only text outputs translate`;
    case "item_reference":
      return `\`${field}\`: an item_reference needs the provider's stored items`;
    default:
      return `\`${field}.type\` "${String(type)}"`;
  }
}

const partsText = (parts: unknown): string =>
  typeof parts === "string"
    ? parts
    : Array.isArray(parts)
      ? (parts as Json[])
          .map((p) => (typeof p?.text === "string" ? p.text : typeof p?.refusal === "string" ? p.refusal : ""))
          .join("")
      : "";

function userContent(content: unknown): unknown {
  if (typeof content === "string") return content;
  const parts = (content as Json[]).map((p) =>
    p.type === "input_image"
      ? { type: "image_url", image_url: { url: p.image_url, ...(p.detail ? { detail: p.detail } : {}) } }
      : { type: "text", text: String(p.text ?? "") },
  );
  return parts.every((p) => p.type === "text") ? parts.map((p) => p.text).join("") : parts;
}

/** A Responses request (checked by {@link responsesUntranslatable}) as a chat.completions request for `model`. */
export function responsesToChatRequest(body: Json, model: string): Json {
  const messages: Json[] = [];
  if (typeof body.instructions === "string" && body.instructions)
    messages.push({ role: "system", content: body.instructions });
  const items: Json[] =
    typeof body.input === "string" ? [{ role: "user", content: body.input }] : ((body.input ?? []) as Json[]);
  for (const item of items) {
    const type = item.type ?? "message";
    if (type === "message") {
      if (item.role === "assistant") messages.push({ role: "assistant", content: partsText(item.content) });
      else if (item.role === "user") messages.push({ role: "user", content: userContent(item.content) });
      else messages.push({ role: item.role, content: partsText(item.content) });
    } else if (type === "function_call") {
      const call = {
        id: item.call_id,
        type: "function",
        function: { name: item.name, arguments: item.arguments ?? "" },
      };
      // Calls of one turn join the assistant message before them (its text, or the calls before them).
      const last = messages.at(-1);
      if (last?.role === "assistant") (last.tool_calls ??= []).push(call);
      else messages.push({ role: "assistant", content: null, tool_calls: [call] });
    } else if (type === "function_call_output") {
      messages.push({ role: "tool", tool_call_id: item.call_id, content: partsText(item.output) });
    }
  }
  const out: Json = { model, messages };
  if (typeof body.max_output_tokens === "number") out.max_completion_tokens = body.max_output_tokens;
  copySampling(body, out);
  const tools = chatFunctionTools(body.tools, (t) => t.parameters);
  if (tools) out.tools = tools;
  const choice = body.tool_choice;
  if (typeof choice === "string") out.tool_choice = choice;
  else if (choice?.type === "function") out.tool_choice = { type: "function", function: { name: choice.name } };
  if (typeof body.parallel_tool_calls === "boolean" && out.tools) out.parallel_tool_calls = body.parallel_tool_calls;
  const format = body.text?.format;
  if (format?.type === "json_object") out.response_format = { type: "json_object" };
  else if (format?.type === "json_schema")
    out.response_format = {
      type: "json_schema",
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(format.description ? { description: format.description } : {}),
        ...(typeof format.strict === "boolean" ? { strict: format.strict } : {}),
      },
    };
  if (typeof body.reasoning?.effort === "string") out.reasoning_effort = body.reasoning.effort;
  return out;
}

/** Responses `usage` for `usage`. */
export function responsesUsage(usage: Usage): Json {
  return {
    input_tokens: usage.input,
    input_tokens_details: { cached_tokens: usage.cachedInput, cache_write_tokens: usage.cacheCreationInput },
    output_tokens: usage.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.input + usage.output,
  };
}

/** How a response ends, from a Messages stop reason (the stream relays' vocabulary). */
export function responseStatus(stopReason: string | undefined): { status: string; incomplete_details: Json | null } {
  if (stopReason === "max_tokens") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (stopReason === "refusal") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** A Response object's members other than its output, status and usage. */
export function responseShell(id: string, model: string, createdAt: number): Json {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output: [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: null,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: null,
    truncation: "disabled",
    usage: null,
    metadata: {},
  };
}

/** An output message item holding `text` (a refusal as a refusal part). */
export function messageItem(id: string, text: string, status: string, refusal = false): Json {
  return {
    id,
    type: "message",
    status,
    role: "assistant",
    content: [
      refusal ? { type: "refusal", refusal: text } : { type: "output_text", text, annotations: [], logprobs: [] },
    ],
  };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: string): Json {
  return { id, type: "function_call", status, call_id: callId, name, arguments: args };
}

/** The id of a translated response: `resp_` and the provider's id. */
export const responseId = (providerId: unknown): string =>
  typeof providerId === "string" && providerId
    ? `resp_${providerId.replace(/^(chatcmpl-|msg_)/, "")}`
    : "resp_translated";

/** A chat.completion as a Response, with `usage` (read from the provider's own wire format). */
export function chatToResponse(chat: Json, usage: Usage, createdAt: number): Json {
  const choice = (Array.isArray(chat.choices) ? chat.choices[0] : undefined) ?? {};
  const message = choice.message ?? {};
  const id = responseId(chat.id);
  const output: Json[] = [];
  const text = partsText(message.content);
  if (text) output.push(messageItem(`msg_${id.slice(5)}`, text, "completed"));
  if (typeof message.refusal === "string" && message.refusal)
    output.push(messageItem(`msg_${id.slice(5)}_refusal`, message.refusal, "completed", true));
  for (const call of (Array.isArray(message.tool_calls) ? message.tool_calls : []) as Json[])
    output.push(
      functionCallItem(`fc_${call.id}`, call.id, call.function?.name, call.function?.arguments ?? "", "completed"),
    );
  const stop =
    choice.finish_reason === "length"
      ? "max_tokens"
      : choice.finish_reason === "content_filter"
        ? "refusal"
        : undefined;
  return {
    ...responseShell(id, chat.model, createdAt),
    ...responseStatus(stop),
    output,
    usage: responsesUsage(usage),
  };
}
