/**
 * A provider's stream in neutral terms, for the relays that translate between wire formats: a reader turns
 * each upstream event into ops, the relay scans the text and tool-argument ops for credentials, and a writer
 * turns the ops into the client's events. Blocks are the reader's keys (text or one tool call); the writer
 * numbers them in the order they open, as the client's format wants.
 */
import type { SseEvent } from "./sse.js";
import type { Usage } from "../usage.js";

export type StreamOp =
  | { readonly kind: "start"; readonly id: string; readonly model: string }
  /** Text of a text block (opened by its first text). */
  | { readonly kind: "text"; readonly block: string; readonly text: string }
  /** A tool call block opens. */
  | { readonly kind: "tool"; readonly block: string; readonly id: string; readonly name: string }
  /** A fragment of a tool call's JSON arguments. */
  | { readonly kind: "args"; readonly block: string; readonly text: string }
  | { readonly kind: "end"; readonly block: string }
  /** Why the answer stopped, in Messages' words (`end_turn`, `max_tokens`, `tool_use`, `refusal`, …). */
  | { readonly kind: "stop"; readonly reason: string }
  /** The usage so far (each one replaces the last). */
  | { readonly kind: "usage"; readonly usage: Usage }
  /** The upstream's stream is complete. */
  | { readonly kind: "done" }
  | { readonly kind: "error"; readonly type: string; readonly message: string };

export interface StreamReader {
  read(event: SseEvent): readonly StreamOp[];
}

export interface StreamWriter {
  /** The client's SSE text for `op` (the relay has scanned text and arguments already). */
  write(op: StreamOp): string;
}
