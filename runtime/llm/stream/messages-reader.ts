/**
 * Reads an Anthropic Messages stream as stream ops: text and tool_use blocks by their index, the stop
 * reason and usage of `message_delta` (running totals over `message_start`'s), `message_stop`. Thinking and
 * server-tool blocks have no place in the client formats it is translated to and are left out.
 */
import type { Json } from "../../http/json.js";
import { NO_USAGE, type Usage, anthropicUsage } from "../usage.js";
import type { StreamOp, StreamReader } from "./ops.js";
import type { SseEvent } from "./sse.js";

export class MessagesStreamReader implements StreamReader {
  private usage: Usage = NO_USAGE;
  /** Indexes of the text and tool_use blocks (the ones relayed). */
  private readonly relayed = new Set<number>();

  read(event: SseEvent): StreamOp[] {
    let data: Json;
    try {
      data = JSON.parse(event.data) as Json;
    } catch {
      return [];
    }
    const block = `b${String(data.index ?? 0)}`;
    switch (data.type) {
      case "message_start": {
        const message = (data.message ?? {}) as Json;
        this.usage = anthropicUsage(message.usage);
        return [
          { kind: "start", id: String(message.id ?? ""), model: String(message.model ?? "") },
          { kind: "usage", usage: this.usage },
        ];
      }
      case "content_block_start": {
        const content = (data.content_block ?? {}) as Json;
        if (content.type === "text") {
          this.relayed.add(data.index);
          return content.text ? [{ kind: "text", block, text: String(content.text) }] : [];
        }
        if (content.type !== "tool_use") return [];
        this.relayed.add(data.index);
        return [{ kind: "tool", block, id: String(content.id ?? block), name: String(content.name ?? "") }];
      }
      case "content_block_delta": {
        const delta = (data.delta ?? {}) as Json;
        if (!this.relayed.has(data.index)) return [];
        if (delta.type === "text_delta") return [{ kind: "text", block, text: String(delta.text ?? "") }];
        if (delta.type === "input_json_delta") return [{ kind: "args", block, text: String(delta.partial_json ?? "") }];
        return [];
      }
      case "content_block_stop":
        return this.relayed.has(data.index) ? [{ kind: "end", block }] : [];
      case "message_delta": {
        if (data.usage) this.usage = anthropicUsage(data.usage, this.usage);
        const ops: StreamOp[] = [{ kind: "usage", usage: this.usage }];
        if (data.delta?.stop_reason) ops.push({ kind: "stop", reason: String(data.delta.stop_reason) });
        return ops;
      }
      case "message_stop":
        return [{ kind: "done" }];
      case "error":
        return [
          {
            kind: "error",
            type: String(data.error?.type ?? "api_error"),
            message: String(data.error?.message ?? "provider error"),
          },
        ];
      default:
        return [];
    }
  }
}
