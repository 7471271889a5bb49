/**
 * Reads an OpenAI chat.completion.chunk stream (choice 0; translated requests never ask for more) as
 * stream ops: content as one text block, each tool call as a block, the finish reason, the usage chunk
 * (`include_usage`, which the gateway always asks OpenAI-kind providers for) and `[DONE]`.
 */
import type { Json } from "../../http/json.js";
import { stopReasonOfFinish } from "../translate/messages-chat.js";
import { openAiUsage } from "../usage.js";
import type { StreamOp, StreamReader } from "./ops.js";
import type { SseEvent } from "./sse.js";

export class ChatStreamReader implements StreamReader {
  private started = false;
  /** The block open now: text and tool calls arrive one after the other in a chat stream. */
  private open: string | undefined;

  read(event: SseEvent): StreamOp[] {
    if (event.data === "[DONE]") return [...this.close(), { kind: "done" }];
    let chunk: Json;
    try {
      chunk = JSON.parse(event.data) as Json;
    } catch {
      return [];
    }
    if (chunk.error) {
      const error = chunk.error as Json;
      return [
        { kind: "error", type: String(error.type ?? "api_error"), message: String(error.message ?? "provider error") },
      ];
    }
    const ops: StreamOp[] = [];
    if (!this.started) {
      this.started = true;
      ops.push({ kind: "start", id: String(chunk.id ?? ""), model: String(chunk.model ?? "") });
    }
    const choice = Array.isArray(chunk.choices)
      ? (chunk.choices as Json[]).find((c) => (c?.index ?? 0) === 0)
      : undefined;
    const delta = (choice?.delta ?? {}) as Json;
    const text =
      typeof delta.content === "string" ? delta.content : typeof delta.refusal === "string" ? delta.refusal : "";
    if (text) {
      if (this.open !== "text") ops.push(...this.close());
      this.open = "text";
      ops.push({ kind: "text", block: "text", text });
    }
    for (const call of (Array.isArray(delta.tool_calls) ? delta.tool_calls : []) as Json[]) {
      const block = `tool${typeof call.index === "number" ? call.index : 0}`;
      if (block !== this.open) {
        ops.push(...this.close());
        this.open = block;
        ops.push({ kind: "tool", block, id: String(call.id ?? block), name: String(call.function?.name ?? "") });
      }
      const args: unknown = call.function?.arguments;
      if (typeof args === "string" && args) ops.push({ kind: "args", block, text: args });
    }
    if (choice?.finish_reason)
      ops.push(...this.close(), { kind: "stop", reason: stopReasonOfFinish(choice.finish_reason) });
    if (chunk.usage) ops.push({ kind: "usage", usage: openAiUsage(chunk.usage) });
    return ops;
  }

  private close(): StreamOp[] {
    const open = this.open;
    this.open = undefined;
    return open ? [{ kind: "end", block: open }] : [];
  }
}
