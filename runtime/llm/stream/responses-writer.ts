/**
 * Writes stream ops as an OpenAI Responses stream, what the openai SDK's `responses.create({ stream: true })`
 * and `responses.stream()` read: `response.created` and `response.in_progress`; per output item
 * `response.output_item.added`, for a message `response.content_part.added`, `response.output_text.delta`s,
 * `response.output_text.done`, `response.content_part.done`, for a function call
 * `response.function_call_arguments.delta`s and `.done`, then `response.output_item.done`; finally
 * `response.completed` (or `response.incomplete`) with the whole output and usage. Every event carries its
 * `sequence_number`. The texts in the `.done` events are the text sent (after the credential guard).
 */
import type { Json } from "../../http/json.js";
import {
  functionCallItem,
  messageItem,
  responseId,
  responseShell,
  responseStatus,
  responsesUsage,
} from "../translate/responses-chat.js";
import { NO_USAGE, type Usage } from "../usage.js";
import type { StreamOp, StreamWriter } from "./ops.js";
import { sseEvent } from "./sse.js";

interface Item {
  readonly index: number;
  readonly id: string;
  /** A function call's id and name; undefined for a message. */
  readonly call: { readonly id: string; readonly name: string } | undefined;
  text: string;
  done: Json | undefined;
}

export class ResponsesStreamWriter implements StreamWriter {
  private sequence = 0;
  private response: Json | undefined;
  private readonly items = new Map<string, Item>();
  private stopReason: string | undefined;
  private usage: Usage = NO_USAGE;

  constructor(private readonly createdAt: number) {}

  write(op: StreamOp): string {
    switch (op.kind) {
      case "start":
        return this.start(op.id, op.model);
      case "text": {
        const { item, out } = this.opened(op.block, undefined);
        item.text += op.text;
        return (
          out +
          this.event("response.output_text.delta", {
            item_id: item.id,
            output_index: item.index,
            content_index: 0,
            delta: op.text,
            logprobs: [],
          })
        );
      }
      case "tool":
        return this.opened(op.block, { id: op.id, name: op.name }).out;
      case "args": {
        const { item, out } = this.opened(op.block, { id: op.block, name: "" });
        item.text += op.text;
        return (
          out +
          this.event("response.function_call_arguments.delta", {
            item_id: item.id,
            output_index: item.index,
            delta: op.text,
          })
        );
      }
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
        for (const block of this.items.keys()) out += this.close(block);
        const { status, incomplete_details } = responseStatus(this.stopReason);
        const response = {
          ...this.response,
          status,
          incomplete_details,
          output: [...this.items.values()].map((i) => i.done),
          usage: responsesUsage(this.usage),
        };
        return out + this.event(status === "completed" ? "response.completed" : "response.incomplete", { response });
      }
      case "error":
        return this.event("error", { code: op.type, message: op.message, param: null });
    }
  }

  private event(type: string, data: object): string {
    return sseEvent(JSON.stringify({ type, sequence_number: this.sequence++, ...data }), type);
  }

  private start(id: string, model: string): string {
    if (this.response) return "";
    this.response = responseShell(responseId(id), model, this.createdAt);
    return (
      this.event("response.created", { response: this.response }) +
      this.event("response.in_progress", { response: this.response })
    );
  }

  private opened(block: string, call: Item["call"]): { item: Item; out: string } {
    const known = this.items.get(block);
    if (known) return { item: known, out: "" };
    let out = this.start("", "");
    const index = this.items.size;
    const base = (this.response?.id as string).slice(5);
    const item: Item = {
      index,
      id: call ? `fc_${call.id}` : `msg_${base}_${index}`,
      call,
      text: "",
      done: undefined,
    };
    this.items.set(block, item);
    out += this.event("response.output_item.added", {
      output_index: index,
      item: call
        ? functionCallItem(item.id, call.id, call.name, "", "in_progress")
        : { ...messageItem(item.id, "", "in_progress"), content: [] },
    });
    if (!call)
      out += this.event("response.content_part.added", {
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [], logprobs: [] },
      });
    return { item, out };
  }

  private close(block: string): string {
    const item = this.items.get(block);
    if (!item || item.done) return "";
    const ids = { item_id: item.id, output_index: item.index };
    if (item.call) {
      item.done = functionCallItem(item.id, item.call.id, item.call.name, item.text, "completed");
      return (
        this.event("response.function_call_arguments.done", { ...ids, arguments: item.text }) +
        this.event("response.output_item.done", { output_index: item.index, item: item.done })
      );
    }
    item.done = messageItem(item.id, item.text, "completed");
    const part = item.done.content[0];
    return (
      this.event("response.output_text.done", { ...ids, content_index: 0, text: item.text, logprobs: [] }) +
      this.event("response.content_part.done", { ...ids, content_index: 0, part }) +
      this.event("response.output_item.done", { output_index: item.index, item: item.done })
    );
  }
}
