/**
 * The stages of an MCP request around the policy gate (./policy-gate.ts): read the POST body, find the
 * request's session (or open one for an initialize), and forward to the session's transport, where the
 * SDK hands each message to the session's handlers.
 */
import type { InitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../http/json.js";
import type { Stage } from "../http/stage.js";
import type { McpExchange, McpRefusal } from "./exchange.js";
import type { SessionRefusal } from "./sessions.js";
import { handlePost } from "./direct-post.js";
import { asRequest, jsonRpcError, readJsonRpcBody } from "./jsonrpc.js";
import type { McpSession } from "./session.js";

type McpStage = Stage<McpExchange, McpRefusal>;

const refusal = (status: number, code: number, message: string): McpRefusal => ({
  status,
  body: jsonRpcError(null, code, message),
});

/** JSON-RPC "Invalid params". */
const INVALID_PARAMS = -32602;

/**
 * Params nested past MAX_JSON_DEPTH are the caller's error (-32602 for every request of the body, HTTP 200
 * as for any JSON-RPC error), found before a session, the limiter or an upstream sees them.
 */
function tooDeepRefusal(messages: readonly unknown[], isBatch: boolean): McpRefusal | undefined {
  if (!messages.some((m) => nestsDeeperThan(m))) return undefined;
  const message = `Invalid params: nested deeper than ${MAX_JSON_DEPTH} levels`;
  const errors = messages.flatMap((m) => {
    const request = asRequest(m);
    return request ? [jsonRpcError(request.id, INVALID_PARAMS, message)] : [];
  });
  return {
    status: errors.length > 0 ? 200 : 400,
    body: errors.length === 0 ? jsonRpcError(null, INVALID_PARAMS, message) : isBatch ? errors : errors[0],
  };
}

/** A POST's JSON-RPC body, size-capped and parsed once, before any SDK code sees it. */
export const parse: McpStage = {
  name: "parse",
  async run(x) {
    const parsed = await readJsonRpcBody(x.req, x.services.bundle.server.maxRequestBytes);
    if (!parsed.ok) return refusal(parsed.status, parsed.code, parsed.message);
    const tooDeep = tooDeepRefusal(parsed.messages, Array.isArray(parsed.body));
    if (tooDeep) return tooDeep;
    x.body = parsed.body;
    x.messages = parsed.messages;
    return undefined;
  },
};

/**
 * The session named by `Mcp-Session-Id`, bound to the caller (./sessions.ts), held by this replica or resumed
 * from its record; a POST without one must be a single initialize, which opens a new session.
 */
export const session: McpStage = {
  name: "session",
  async run(x) {
    const id = x.req.headers["mcp-session-id"];
    if (id === undefined && x.req.method === "POST") return open(x);
    if (typeof id !== "string" || id.length === 0)
      return refusal(400, -32000, "Bad Request: Mcp-Session-Id header is required");
    const found = await x.services.sessions.find(x.ctx, id);
    if (!found.ok) return lookupRefusal(found.reason);
    x.session = found.session;
    return undefined;
  },
};

/** The HTTP answer to a request no session could be given for. */
export function lookupRefusal(reason: SessionRefusal): McpRefusal {
  switch (reason) {
    case "not-found":
      return refusal(404, -32001, "Session not found");
    case "store-unavailable":
      return {
        ...refusal(503, -32000, "MCP session store unavailable: retry shortly"),
        headers: { "retry-after": "1" },
      };
    case "stdio-exhausted":
      return {
        ...refusal(503, -32000, "this gateway replica runs its maximum of stdio upstream processes: retry shortly"),
        headers: { "retry-after": "5" },
      };
  }
}

async function open(x: McpExchange): Promise<McpRefusal | undefined> {
  const init = x.messages.length === 1 ? asRequest(x.messages[0]) : undefined;
  if (init?.method !== "initialize")
    return refusal(400, -32000, "Bad Request: Mcp-Session-Id header is required (or send a single initialize request)");
  const params = (init.params ?? {}) as Partial<InitializeRequest["params"]>;
  const opened = await x.services.sessions.open(x.ctx, params);
  if (!opened.ok) return lookupRefusal(opened.reason);
  x.session = opened.session;
  x.opening = true;
  return undefined;
}

/** A POST (its body parsed) through ./direct-post.ts; GET streams and DELETE through the SDK's Node transport. */
function deliver(x: McpExchange, session: McpSession): Promise<void> {
  return x.req.method === "POST"
    ? handlePost(session.webTransport(), x.req, x.res, x.body)
    : session.transport.handleRequest(x.req, x.res, x.body);
}

/** Hands the request to the session's transport; a new session is kept only when its transport accepted it. */
export const forward: McpStage = {
  name: "forward",
  async run(x) {
    const { req, res } = x;
    const session = x.session;
    if (!session) throw new Error("forward before session");
    if (x.opening) {
      try {
        await session.server.connect(session.transport);
        await deliver(x, session);
      } catch (error) {
        await session.close();
        throw error;
      }
      // The registry kept it when its transport accepted the initialize (./sessions.ts). No session id: the
      // transport refused the initialize (bad version, bad headers); its children go too.
      if (!session.sessionId) await session.close();
      return undefined;
    }
    for (const [name, value] of Object.entries(x.headers)) res.setHeader(name, value);
    // The server's stream must reach the client as it is written, through any buffering proxy.
    if (req.method === "GET") res.setHeader("x-accel-buffering", "no");
    await deliver(x, session);
    if (req.method === "DELETE" && session.sessionId && res.statusCode < 300)
      await x.services.sessions.forget(session.sessionId);
    return undefined;
  },
};
