/**
 * Reading the JSON-RPC body of a POST before the SDK transport sees it: size-capped, parsed once, always
 * viewed as a list of messages (a v1 transport still accepts batches, so a policy that looked only at
 * single messages could be bypassed with an array).
 */
import type { IncomingMessage } from "node:http";
import { RequestBodyTooLarge, readBody } from "../http/read-body.js";

/** JSON-RPC error code for calls refused by gateway policy (implementation-defined server error range). */
export const POLICY_REFUSED = -32003;

export interface JsonRpcRequestLike {
  readonly id: string | number;
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

export type BodyResult =
  | { readonly ok: true; readonly body: unknown; readonly messages: readonly unknown[] }
  | { readonly ok: false; readonly status: number; readonly code: number; readonly message: string };

export async function readJsonRpcBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  let raw: Buffer;
  try {
    raw = await readBody(req, maxBytes);
  } catch (error) {
    if (!(error instanceof RequestBodyTooLarge)) throw error;
    return { ok: false, status: 413, code: -32600, message: `request body larger than ${maxBytes} bytes` };
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    return { ok: false, status: 400, code: -32700, message: "Parse error: body is not JSON" };
  }
  const messages = Array.isArray(body) ? body : [body];
  if (messages.length === 0) return { ok: false, status: 400, code: -32600, message: "Invalid Request: empty batch" };
  return { ok: true, body, messages };
}

/** A message that expects a response (has an id and a method). */
export function asRequest(message: unknown): JsonRpcRequestLike | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (typeof m.method !== "string" || (typeof m.id !== "string" && typeof m.id !== "number")) return undefined;
  const params =
    typeof m.params === "object" && m.params !== null && !Array.isArray(m.params)
      ? (m.params as Record<string, unknown>)
      : undefined;
  return { id: m.id, method: m.method, ...(params ? { params } : {}) };
}

export function jsonRpcError(
  id: string | number | null,
  code: number,
  message: string,
): { jsonrpc: "2.0"; id: string | number | null; error: { code: number; message: string } } {
  return { jsonrpc: "2.0", id, error: { code, message } };
}
