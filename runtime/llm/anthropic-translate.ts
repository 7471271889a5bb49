/**
 * chat.completions ⇄ Anthropic Messages translation: requests (system prompts, multi-part content,
 * images, tools and tool results), responses (text, tool calls, stop reasons, usage) and the streaming
 * event sequence (message_start … message_stop → chat.completion.chunk events).
 */
import type { Json } from "../http/json.js";
import { NO_USAGE, type Usage, anthropicUsage, chatUsage } from "./usage.js";

export const ANTHROPIC_VERSION = "2023-06-01";

const STOP_REASONS: Readonly<Record<string, string>> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
  pause_turn: "stop",
  refusal: "content_filter",
};

export function finishReason(stopReason: string | null | undefined): string | null {
  if (!stopReason) return null;
  return STOP_REASONS[stopReason] ?? "stop";
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content.map((p: any) => (p && typeof p === "object" && typeof p.text === "string" ? p.text : "")).join("");
  return "";
}

function imageBlock(part: Json): Json | undefined {
  const url: unknown = part.image_url?.url;
  if (typeof url !== "string") return undefined;
  const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
  if (data) return { type: "image", source: { type: "base64", media_type: data[1], data: data[2] } };
  return { type: "image", source: { type: "url", url } };
}

function userBlocks(content: unknown): Json[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  if (!Array.isArray(content)) return [];
  const blocks: Json[] = [];
  for (const part of content as Json[]) {
    if (part?.type === "text") blocks.push({ type: "text", text: String(part.text ?? "") });
    else if (part?.type === "image_url") {
      const block = imageBlock(part);
      if (block) blocks.push(block);
    }
  }
  return blocks;
}

/** A tool call's JSON arguments as an object (empty when there are none; what is not JSON is kept under `_raw`). */
export function parseArguments(raw: unknown): unknown {
  if (typeof raw !== "string" || raw.trim() === "") return {};
  try {
    return JSON.parse(raw);
  } catch {
    return { _raw: raw };
  }
}

/** Translates a chat.completions request body to a Messages request body for `model`. */
export function chatToMessagesRequest(chat: Json, model: string): Json {
  const system: string[] = [];
  const messages: { role: "user" | "assistant"; content: Json[] }[] = [];
  const push = (role: "user" | "assistant", blocks: Json[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const message of (chat.messages ?? []) as Json[]) {
    switch (message.role) {
      case "system":
      case "developer":
        system.push(textOf(message.content));
        break;
      case "user":
        push("user", userBlocks(message.content));
        break;
      case "assistant": {
        const blocks: Json[] = [];
        const text = textOf(message.content);
        if (text) blocks.push({ type: "text", text });
        for (const call of (message.tool_calls ?? []) as Json[]) {
          blocks.push({
            type: "tool_use",
            id: call.id,
            name: call.function?.name,
            input: parseArguments(call.function?.arguments),
          });
        }
        push("assistant", blocks);
        break;
      }
      case "tool":
        push("user", [{ type: "tool_result", tool_use_id: message.tool_call_id, content: textOf(message.content) }]);
        break;
      default:
        break;
    }
  }
  const out: Json = {
    model,
    messages,
    max_tokens: chat.max_completion_tokens ?? chat.max_tokens ?? 4096,
  };
  if (system.length > 0) out.system = system.join("\n\n");
  if (chat.stream) out.stream = true;
  if (typeof chat.temperature === "number") out.temperature = Math.min(chat.temperature, 1);
  if (typeof chat.top_p === "number") out.top_p = chat.top_p;
  if (chat.stop !== undefined && chat.stop !== null)
    out.stop_sequences = Array.isArray(chat.stop) ? chat.stop : [chat.stop];
  if (Array.isArray(chat.tools) && chat.tools.length > 0) {
    out.tools = (chat.tools as Json[])
      .filter((t) => t.type === "function" && t.function)
      .map((t) => ({
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        input_schema: t.function.parameters ?? { type: "object", properties: {} },
      }));
  }
  const choice = chat.tool_choice;
  if (choice === "auto") out.tool_choice = { type: "auto" };
  else if (choice === "required") out.tool_choice = { type: "any" };
  else if (choice === "none") out.tool_choice = { type: "none" };
  else if (choice && typeof choice === "object" && choice.function?.name)
    out.tool_choice = { type: "tool", name: choice.function.name };
  if (chat.parallel_tool_calls === false && out.tool_choice) out.tool_choice.disable_parallel_tool_use = true;
  return out;
}

/** Translates a Messages response to a chat.completion. */
export function messagesToChatResponse(message: Json, created: number): Json {
  const blocks = (message.content ?? []) as Json[];
  const text = blocks
    .filter((b) => b.type === "text")
    .map((b) => String(b.text ?? ""))
    .join("");
  const toolCalls = blocks
    .filter((b) => b.type === "tool_use")
    .map((b) => ({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
  const usage = anthropicUsage(message.usage);
  return {
    id: message.id,
    object: "chat.completion",
    created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text.length > 0 || toolCalls.length === 0 ? text : null,
          refusal: null,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishReason(message.stop_reason) ?? "stop",
      },
    ],
    usage: chatUsage(usage),
  };
}

/** Translates an Anthropic error body into the OpenAI error shape. */
export function anthropicErrorToOpenAi(body: Json | undefined, status: number): Json {
  const err = body?.error ?? {};
  return {
    error: {
      type: err.type ?? "api_error",
      code: String(status),
      message: err.message ?? `provider answered ${status}`,
      param: null,
    },
  };
}

/** Translates an Anthropic models list to the OpenAI shape. */
export function anthropicModelsToOpenAi(list: Json): Json {
  return {
    object: "list",
    data: ((list.data ?? []) as Json[]).map((m) => ({
      id: m.id,
      object: "model",
      created: Math.floor(Date.parse(m.created_at ?? "") / 1000) || 0,
      owned_by: "anthropic",
    })),
  };
}

/**
 * Stateful translator of one Anthropic SSE stream into chat.completion.chunk objects. Text deltas are
 * returned separately (`text`) so the caller can run the streaming credential scanner on them.
 */
export class AnthropicStreamTranslator {
  id = "chatcmpl-anthropic";
  model = "";
  readonly created = Math.floor(Date.now() / 1000);
  usage: Usage = NO_USAGE;
  private readonly toolIndexByBlock = new Map<number, number>();

  /** A chunk carrying a fragment of tool call `index`'s arguments. */
  toolArgsChunk(index: number, text: string): Json {
    return this.chunk({ tool_calls: [{ index, function: { arguments: text } }] });
  }

  chunk(delta: Json, finish: string | null = null): Json {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
  }

  usageChunk(): Json {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices: [],
      usage: chatUsage(this.usage),
    };
  }

  /**
   * One Anthropic event → what to emit: `text` (content to scan, then send as a content delta),
   * `chunks` (emit as is, after flushing held text), `finish` (stream is complete), `error`.
   */
  translate(event: Json): {
    text?: string;
    toolArgs?: { index: number; text: string };
    toolEnd?: number;
    chunks?: Json[];
    done?: boolean;
    error?: Json;
  } {
    switch (event.type) {
      case "message_start": {
        const message = event.message ?? {};
        this.id = message.id ?? this.id;
        this.model = message.model ?? this.model;
        this.usage = anthropicUsage(message.usage);
        return { chunks: [this.chunk({ role: "assistant", content: "" })] };
      }
      case "content_block_start": {
        const block = event.content_block ?? {};
        if (block.type !== "tool_use") return {};
        const index = this.toolIndexByBlock.size;
        this.toolIndexByBlock.set(event.index, index);
        return {
          chunks: [
            this.chunk({
              tool_calls: [{ index, id: block.id, type: "function", function: { name: block.name, arguments: "" } }],
            }),
          ],
        };
      }
      case "content_block_delta": {
        const delta = event.delta ?? {};
        if (delta.type === "text_delta") return { text: String(delta.text ?? "") };
        if (delta.type === "input_json_delta") {
          const index = this.toolIndexByBlock.get(event.index) ?? 0;
          return { toolArgs: { index, text: String(delta.partial_json ?? "") } };
        }
        return {};
      }
      case "content_block_stop": {
        const index = this.toolIndexByBlock.get(event.index);
        return index === undefined ? {} : { toolEnd: index };
      }
      case "message_delta": {
        if (event.usage) this.usage = anthropicUsage(event.usage, this.usage);
        return { chunks: [this.chunk({}, finishReason(event.delta?.stop_reason) ?? "stop")] };
      }
      case "message_stop":
        return { done: true };
      case "error":
        return {
          error: {
            error: {
              type: event.error?.type ?? "api_error",
              code: "upstream_error",
              message: event.error?.message ?? "provider error",
              param: null,
            },
          },
        };
      default:
        return {};
    }
  }
}
