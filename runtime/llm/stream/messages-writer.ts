/**
 * Writes stream ops as an Anthropic Messages stream, what the Anthropic SDK's `messages.stream()` reads:
 * `message_start`, per block `content_block_start` / deltas / `content_block_stop`, then `message_delta`
 * with the stop reason and the whole usage (a chat.completions provider reports usage only at the end, so
 * `message_start` carries zero input tokens and `message_delta` the real counts), and `message_stop`.
 */
import { messagesUsage } from "../translate/messages-chat.js";
import { NO_USAGE, type Usage } from "../usage.js";
import type { StreamOp, StreamWriter } from "./ops.js";
import { sseEvent } from "./sse.js";

const event = (name: string, data: object) => sseEvent(JSON.stringify({ type: name, ...data }), name);

export class MessagesStreamWriter implements StreamWriter {
  private started = false;
  private readonly indexes = new Map<string, number>();
  private readonly open = new Set<string>();
  private stopReason = "end_turn";
  private usage: Usage = NO_USAGE;

  write(op: StreamOp): string {
    switch (op.kind) {
      case "start":
        return this.start(op.id, op.model);
      case "text":
        return `${this.opened(op.block, { type: "text", text: "" })}${event("content_block_delta", {
          index: this.indexes.get(op.block),
          delta: { type: "text_delta", text: op.text },
        })}`;
      case "tool":
        return this.opened(op.block, { type: "tool_use", id: op.id, name: op.name, input: {} });
      case "args":
        return `${this.opened(op.block, { type: "tool_use", id: op.block, name: "", input: {} })}${event(
          "content_block_delta",
          {
            index: this.indexes.get(op.block),
            delta: { type: "input_json_delta", partial_json: op.text },
          },
        )}`;
      case "end":
        return this.close(op.block);
      case "stop":
        this.stopReason = op.reason;
        return "";
      case "usage":
        this.usage = op.usage;
        return "";
      case "done": {
        let out = this.start("", "");
        for (const block of [...this.open]) out += this.close(block);
        out += event("message_delta", {
          delta: { stop_reason: this.stopReason, stop_sequence: null },
          usage: messagesUsage(this.usage),
        });
        return out + event("message_stop", {});
      }
      case "error":
        return event("error", { error: { type: op.type, message: op.message } });
    }
  }

  private start(id: string, model: string): string {
    if (this.started) return "";
    this.started = true;
    return event("message_start", {
      message: {
        id: id.startsWith("msg_") ? id : `msg_${id}`,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  /** `content_block_start` when `block` is new (and `message_start` before the first). */
  private opened(block: string, content: object): string {
    if (this.indexes.has(block)) return "";
    this.indexes.set(block, this.indexes.size);
    this.open.add(block);
    return `${this.start("", "")}${event("content_block_start", { index: this.indexes.get(block), content_block: content })}`;
  }

  private close(block: string): string {
    if (!this.open.delete(block)) return "";
    return event("content_block_stop", { index: this.indexes.get(block) });
  }
}
