/**
 * Client-facing errors of the LLM routes, in the OpenAI shape `{error:{type, code, message}}` (the
 * native Anthropic endpoint adds Anthropic's `type: "error"` envelope around the same object). Messages
 * name the rule that refused (`guard: pii`), never the matched text or a key.
 */
import type { ServerResponse } from "node:http";

export type ErrorFlavour = "openai" | "anthropic";

export interface LlmError {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly message: string;
  /** More members of the error object, for a client that reads them (a spent budget's numbers). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export function errorBody(error: LlmError, flavour: ErrorFlavour): string {
  const inner = { type: error.type, code: error.code, message: error.message, param: null, ...error.details };
  return JSON.stringify(flavour === "anthropic" ? { type: "error", error: inner } : { error: inner });
}

export function sendLlmError(
  res: ServerResponse,
  error: LlmError,
  flavour: ErrorFlavour,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.destroyed) return; // the client is gone: nothing reaches it
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = errorBody(error, flavour);
  res.writeHead(error.status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * The status an audit event records for a request whose client closed the connection before anything was
 * sent (nginx's "client closed request"); the client never sees it.
 */
export const CLIENT_CLOSED_REQUEST = 499;

export const clientGoneError: LlmError = {
  status: CLIENT_CLOSED_REQUEST,
  type: "api_error",
  code: "client_gone",
  message: "the client went away",
};

export const guardBlocked = (guard: string, message: string): LlmError => ({
  status: 400,
  type: "invalid_request_error",
  code: "guard_blocked",
  message: message || `guard: ${guard}`,
});
export const responseGuardBlocked = (guard: string, message: string): LlmError => ({
  status: 403,
  type: "permission_error",
  code: "guard_blocked",
  message: message || `guard: ${guard}`,
});
export const badRequest = (message: string): LlmError => ({
  status: 400,
  type: "invalid_request_error",
  code: "invalid_request",
  message,
});
/** A request no provider of the route can take in the client's format (a field has no translation). */
export const untranslatable = (why: string): LlmError => ({
  status: 400,
  type: "invalid_request_error",
  code: "unsupported_for_provider",
  message: `cannot translate this request: ${why}`,
});
