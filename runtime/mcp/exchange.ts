/**
 * One MCP request as it moves through the request path (see index.ts): what the gateway gives every
 * request, the request itself, and what each stage found, in the fields the later stages read.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Bundle } from "../../policies/bundle/index.js";
import type { CompiledToolPolicy } from "../../policies/tools/index.js";
import type { RateLimiter, RequestContext } from "../http/types.js";
import { type AuditEvent, auditWho } from "../observability/audit.js";
import type { McpEndpoint } from "./endpoint.js";
import type { JsonRpcRequestLike } from "./jsonrpc.js";
import type { McpSession } from "./session.js";
import type { SessionRegistry } from "./sessions.js";

/** What every request of one gateway shares: built once per loaded bundle. */
export interface McpServices {
  readonly bundle: Bundle;
  readonly policy: CompiledToolPolicy;
  readonly limiter: RateLimiter;
  readonly sessions: SessionRegistry;
  /** The endpoint the request reached (the main MCP path or a role's). */
  readonly endpoint: McpEndpoint;
}

/** A stage's refusal: the HTTP status, the JSON-RPC body and headers the client gets. */
export interface McpRefusal {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const NO_HEADERS: Readonly<Record<string, string>> = {};

export class McpExchange {
  /** The POST body as sent (one message or a batch), and always as a list (`parse`). */
  body: unknown = undefined;
  messages: readonly unknown[] = [];
  /** The session the request belongs to, or the one its initialize opens (`session`). */
  session: McpSession | undefined = undefined;
  /** The request is an initialize: `session` is new, kept once its transport accepts it. */
  opening = false;
  /**
   * A 2026-07-28 stateless body (`era`): the request it carries, or "notification" (accepted, not forwarded);
   * undefined for 2025-era traffic, which takes the session path.
   */
  stateless: JsonRpcRequestLike | "notification" | undefined = undefined;
  /** `tools/call` messages in the body: each counts against the rate limit (`authorize` counts them). */
  toolCalls = 0;
  /** RateLimit-* headers of the admitted calls (`limit`). */
  headers: Readonly<Record<string, string>> = NO_HEADERS;

  constructor(
    readonly services: McpServices,
    readonly ctx: RequestContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  /** Records one audit event of this request. */
  audit(event: Omit<AuditEvent, "kind" | "principal" | "client" | "requestId" | "traceId">): void {
    const { ctx } = this;
    ctx.audit.record({
      kind: "mcp",
      ...auditWho(ctx.principal),
      requestId: ctx.requestId,
      traceId: ctx.traceId,
      ...event,
    });
  }
}
