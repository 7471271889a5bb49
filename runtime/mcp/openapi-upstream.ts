/**
 * An OpenAPI upstream as an MCP server inside the gateway: `tools/list` answers from the bundle's operations,
 * `tools/call` becomes one HTTP request to the REST service (./openapi-request.ts) over the runtime's pooled
 * client, with the upstream's own credentials and never anything of the client's request.
 *
 * It is reached through an in-memory MCP transport, so a session treats it as any other upstream: the same
 * policy gate, scopes, guards on arguments and results, audit and metrics apply to its tools.
 *
 * Results: a 2xx answer is the response body as text content; any other status is an error result naming it
 * (with the body, which may explain why); a body larger than `maxResponseBytes`, a timeout or a connection
 * failure is an error result too. Redirects are answers, never followed.
 */
import { STATUS_CODES } from "node:http";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { OpenApiOperation, OpenApiTransport } from "../../policies/bundle/index.js";
import { traceHeaders } from "../observability/index.js";
import type { CredentialSource } from "./credentials.js";
import { operationRequest } from "./openapi-request.js";

export interface OpenApiUpstreamOptions {
  /** How the REST service is reached (the runtime's pooled client). */
  readonly fetch: FetchLike;
  readonly credentials: CredentialSource;
  /** The session's latest verified user token (read by token exchange only, never sent). */
  readonly userToken: () => string;
  /** Per-call timeout. */
  readonly timeoutMs: number;
}

/** The client side of an in-memory transport whose server side serves `config`'s operations. */
export function openApiTransport(config: OpenApiTransport, options: OpenApiUpstreamOptions): Transport {
  const [client, server] = InMemoryTransport.createLinkedPair();
  void openApiServer(config, options)
    .connect(server)
    .catch(() => undefined);
  return client;
}

/** The MCP server of one OpenAPI upstream (one per session, like any upstream connection). */
export function openApiServer(config: OpenApiTransport, options: OpenApiUpstreamOptions): Server {
  const server = new Server({ name: "tollgate-openapi", version: "0.1.0" }, { capabilities: { tools: {} } });
  const operations = new Map(config.operations.map((operation) => [operation.tool, operation]));
  const tools: Tool[] = config.operations.map(toolOf);
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const operation = operations.get(request.params.name);
    if (!operation) return errorResult(`unknown tool "${request.params.name}"`);
    return callOperation(config, operation, request.params.arguments ?? {}, options, extra.signal);
  });
  return server;
}

function toolOf(operation: OpenApiOperation): Tool {
  const reads = operation.method === "GET" || operation.method === "HEAD";
  return {
    name: operation.tool,
    description: operation.description ?? `${operation.method} ${operation.path}`,
    inputSchema: operation.inputSchema as Tool["inputSchema"],
    annotations: {
      readOnlyHint: reads,
      destructiveHint: operation.method === "DELETE",
      idempotentHint: reads || operation.method === "PUT" || operation.method === "DELETE",
    },
  };
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

async function callOperation(
  config: OpenApiTransport,
  operation: OpenApiOperation,
  args: Record<string, unknown>,
  options: OpenApiUpstreamOptions,
  cancelled: AbortSignal,
): Promise<CallToolResult> {
  const built = operationRequest(config.baseUrl, operation, args);
  if ("refused" in built) return errorResult(`invalid arguments: ${built.refused}`);
  const headers = { ...built.headers };
  let credentials: Record<string, string>;
  try {
    credentials = await options.credentials(options.userToken());
  } catch {
    // The token endpoint's answer is not repeated: it may echo a credential.
    return errorResult("the gateway could not obtain its credentials for this service");
  }
  // The upstream's own credentials win over any argument of the same name (header names are case-insensitive).
  for (const [name, value] of Object.entries(credentials)) headers[name.toLowerCase()] = value;
  // The session gives the whole call `timeoutMs`; the request gets a little less, so a slow service is an error
  // result the agent can read rather than the call's own timeout.
  const deadlineMs = Math.max(100, options.timeoutMs - Math.min(1_000, Math.floor(options.timeoutMs / 10)));
  const signal = AbortSignal.any([cancelled, AbortSignal.timeout(deadlineMs)]);
  let response: Response;
  try {
    response = await options.fetch(built.url, {
      method: built.method,
      headers: traceHeaders(headers),
      ...(built.body !== undefined ? { body: built.body } : {}),
      signal,
    });
  } catch (error) {
    if (signal.aborted && !cancelled.aborted) return errorResult(`no answer within ${deadlineMs} ms`);
    if (cancelled.aborted) throw error;
    return errorResult(`the service could not be reached (${failureCode(error)})`);
  }
  const read = await readCapped(response, config.maxResponseBytes, signal).catch(() => undefined);
  if (read === undefined) return errorResult(`the answer (HTTP ${response.status}) could not be read in full`);
  if (read === "too-large")
    return errorResult(`the answer (HTTP ${response.status}) is larger than ${config.maxResponseBytes} bytes`);
  const text = describeBody(read, response.headers.get("content-type"));
  if (response.status >= 200 && response.status < 300)
    return { content: [{ type: "text", text: text || `HTTP ${response.status}` }] };
  const reason = STATUS_CODES[response.status];
  return errorResult(`HTTP ${response.status}${reason ? ` ${reason}` : ""}${text ? `: ${text}` : ""}`);
}

/** The body, or `too-large` as soon as it passes `limit` bytes (the rest is not read). */
async function readCapped(response: Response, limit: number, signal: AbortSignal): Promise<Buffer | "too-large"> {
  if (!response.body) return Buffer.alloc(0);
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await response.body.cancel().catch(() => undefined);
    return "too-large";
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body.getReader();
  const abort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", abort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        return "too-large";
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } finally {
    signal.removeEventListener("abort", abort);
  }
  if (signal.aborted) throw new Error("aborted");
  return Buffer.concat(chunks);
}

/** Text as it came for JSON and text types; a note for anything else (binary is not put into a tool result). */
function describeBody(body: Buffer, contentType: string | null): string {
  if (body.length === 0) return "";
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type === "" || type.startsWith("text/") || /[/+]json$/.test(type) || /[/+]xml$/.test(type))
    return body.toString("utf8");
  return `(${body.length} bytes of ${type})`;
}

/** A connection failure by its code only: an error message may carry the address. */
function failureCode(error: unknown): string {
  const code =
    (error as { code?: unknown; cause?: { code?: unknown } })?.code ??
    (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === "string" && /^[A-Z_]+$/.test(code) ? code : "connection failed";
}
