/**
 * One request id from the client to every upstream, through the real gateway (tracing off, the default):
 * the openai and @anthropic-ai/sdk clients against the LLM stand-in, which records the headers it
 * received, and the MCP SDK client against an SDK streamable-HTTP upstream whose tool answers with the
 * `x-request-id` and `traceparent` of the very request that called it. The id the client sent comes back
 * in `x-request-id`, in the audit line and at the upstream; a malformed one is replaced everywhere by the
 * gateway's own; the client's `traceparent` reaches the upstreams as it was sent, or a new trace starts.
 */
import { createServer, type Server } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import type { AuditEvent } from "../../runtime/observability/audit.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";
import { mcpSessionHandler } from "../support/mcp-session-http.js";
import { closeServer, listen } from "./mcp-fixtures.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const NEW_TRACE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/;

let llm: LlmUpstream;
let mcpUpstream: Server;
let closeMcpSessions: () => Promise<void>;
let platform: TestPlatform;
let token: string;

/** An MCP upstream whose `echo_headers` tool answers with the headers of the request that called it. */
async function startEchoUpstream(): Promise<string> {
  const sessions = mcpSessionHandler(() => {
    const server = new McpServer({ name: "echo-headers", version: "1.0.0" });
    server.registerTool(
      "echo_headers",
      { description: "The headers this call arrived with", inputSchema: {} },
      (_args, extra) => {
        const headers = extra.requestInfo?.headers ?? {};
        const pick = (name: string) => (typeof headers[name] === "string" ? headers[name] : null);
        return {
          content: [
            {
              type: "text",
              text: JSON.stringify({ requestId: pick("x-request-id"), traceparent: pick("traceparent") }),
            },
          ],
        };
      },
    );
    return server;
  });
  closeMcpSessions = () => sessions.closeAll();
  mcpUpstream = createServer((req, res) => void sessions.handle(req, res).catch(() => res.writeHead(500).end()));
  return `${await listen(mcpUpstream)}/mcp`;
}

beforeAll(async () => {
  llm = await startLlmUpstream();
  const echoUrl = await startEchoUpstream();
  platform = await startTestPlatform({
    env: { GW_OPENAI_KEY: "gw-openai-key-for-tests", GW_ANTHROPIC_KEY: "gw-anthropic-key-for-tests" },
    bundle: (bundle) => ({
      ...bundle,
      llm: {
        routes: [
          {
            id: "openai",
            pathPrefix: "/openai",
            policy: "default",
            providers: [{ id: "openai", kind: "openai", baseUrl: `${llm.url}/v1`, apiKey: { env: "GW_OPENAI_KEY" } }],
          },
          {
            id: "anthropic",
            pathPrefix: "/anthropic",
            policy: "default",
            providers: [{ id: "anthropic", kind: "anthropic", baseUrl: llm.url, apiKey: { env: "GW_ANTHROPIC_KEY" } }],
          },
        ],
      },
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [{ id: "echo", transport: { type: "streamable-http", url: echoUrl } }],
        grants: [{ scope: "mcp:read", upstream: "echo", tools: ["echo_*"] }],
        deny: [],
        alwaysBlocked: [],
      },
      guardPolicies: [{ id: "default", limits: { windowSeconds: 60, requestsPerWindow: 1000 } }],
    }),
  });
  token = await platform.token("reader");
}, 60_000);

afterAll(async () => {
  await platform?.close();
  await llm?.close();
  await closeMcpSessions?.();
  if (mcpUpstream) await closeServer(mcpUpstream);
});

beforeEach(() => llm.reset());

const openai = (headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: `${platform.url}/openai/v1`, apiKey: token, maxRetries: 0, defaultHeaders: headers });

/** The audit line of the LLM or MCP decision recorded with this request id. */
function auditLine(kind: AuditEvent["kind"], requestId: string | null): Promise<AuditEvent> {
  return vi.waitFor(() => {
    const line = platform.audit.find((e) => e.kind === kind && e.requestId === requestId);
    if (!line) throw new Error(`no ${kind} audit line for request ${requestId}`);
    return line;
  });
}

describe("LLM routes", () => {
  it("the client's well-formed x-request-id comes back, is audited, and reaches the provider", async () => {
    const { response } = await openai({ "x-request-id": "agent-run-7:step.3" })
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] })
      .withResponse();
    expect(response.headers.get("x-request-id")).toBe("agent-run-7:step.3");
    expect(llm.requests.at(-1)?.headers["x-request-id"]).toBe("agent-run-7:step.3");
    await auditLine("llm", "agent-run-7:step.3");
  });

  it("the Anthropic SDK's x-request-id reaches the Messages provider, streamed", async () => {
    const client = new Anthropic({
      baseURL: `${platform.url}/anthropic`,
      authToken: token,
      apiKey: null,
      maxRetries: 0,
      defaultHeaders: { "x-request-id": "anthropic-run-1" },
    });
    const stream = client.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 32,
      messages: [{ role: "user", content: "hello" }],
    });
    await stream.finalMessage();
    const { response } = await stream.withResponse();
    expect(response.headers.get("x-request-id")).toBe("anthropic-run-1");
    expect(llm.requests.at(-1)?.headers["x-request-id"]).toBe("anthropic-run-1");
  });

  it.each([
    ["with spaces and quotes", 'run "7" step 3'],
    ["over 128 characters", "r".repeat(129)],
  ])("a malformed x-request-id (%s) is replaced by the gateway's own, everywhere", async (_name, sent) => {
    const { response } = await openai({ "x-request-id": sent })
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] })
      .withResponse();
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    expect(llm.requests.at(-1)?.headers["x-request-id"]).toBe(id);
    await auditLine("llm", id);
  });

  it("the client's traceparent and tracestate reach the provider as sent", async () => {
    await openai({ traceparent: TRACEPARENT, tracestate: "agent=run7" }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hello" }],
    });
    expect(llm.requests.at(-1)?.headers).toMatchObject({ traceparent: TRACEPARENT, tracestate: "agent=run7" });
  });

  it("a request without a valid traceparent starts a trace for the provider", async () => {
    await openai({ traceparent: "not-a-traceparent" }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hello" }],
    });
    const sent = llm.requests.at(-1)?.headers;
    expect(sent?.traceparent).toMatch(NEW_TRACE);
    expect(sent?.["x-request-id"]).toMatch(UUID);
  });

  it("listing models carries the request id and trace context too", async () => {
    await openai({ "x-request-id": "list-models-1", traceparent: TRACEPARENT }).models.list();
    expect(llm.requests.at(-1)).toMatchObject({
      path: "/v1/models",
      headers: { "x-request-id": "list-models-1", traceparent: TRACEPARENT },
    });
  });
});

describe("the MCP endpoint", () => {
  let client: Client;
  /** Headers the MCP client sends with its next requests. */
  let outgoing: Record<string, string> = {};

  beforeAll(async () => {
    client = new Client({ name: "request-id-e2e", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(platform.mcpUrl), {
        fetch: (url, init) => {
          const headers = new Headers(init?.headers);
          headers.set("authorization", `Bearer ${token}`);
          for (const [name, value] of Object.entries(outgoing)) headers.set(name, value);
          return fetch(url, { ...init, headers });
        },
      }),
    );
  });

  afterAll(async () => client?.close());

  /** What the upstream's tool saw of the gateway's request for this call. */
  async function callEcho(): Promise<{ requestId: string | null; traceparent: string | null }> {
    const result = (await client.callTool({ name: "echo__echo_headers", arguments: {} })) as CallToolResult;
    const first = result.content[0];
    if (first?.type !== "text") throw new Error("echo_headers answered without text");
    return JSON.parse(first.text) as { requestId: string | null; traceparent: string | null };
  }

  it("the client's x-request-id and traceparent reach the upstream with the tool call", async () => {
    outgoing = { "x-request-id": "mcp-call-42", traceparent: TRACEPARENT };
    const seen = await callEcho();
    expect(seen).toEqual({ requestId: "mcp-call-42", traceparent: TRACEPARENT });
    await auditLine("mcp", "mcp-call-42");
  });

  it("a malformed x-request-id is replaced: the upstream sees the id the gateway audited", async () => {
    outgoing = { "x-request-id": "mcp call\t42" };
    const seen = await callEcho();
    expect(seen.requestId).toMatch(UUID);
    expect(seen.traceparent).toMatch(NEW_TRACE);
    const line = await auditLine("mcp", seen.requestId);
    expect(line.tool).toBe("echo__echo_headers");
  });
});
