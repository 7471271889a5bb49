/**
 * OpenAPI upstreams end to end: the real gateway (`startTestPlatform`) with real tokens from the oidc-provider
 * Okta stand-in, the MCP SDK client downstream, and the tickets REST service upstream, described by its
 * OpenAPI 3.1 document and converted the way a synth converts it. One upstream is reached with a static
 * secret header, one with RFC 8693 token exchange.
 */
import { type Server, createServer } from "node:http";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { OpenApiDocument } from "../../constructs/openapi-document.js";
import { connectMcp } from "../../examples/local-platform/mcp-client.js";
import {
  TICKETS_DOCUMENT,
  type TicketsService,
  startTicketsService,
} from "../../examples/local-platform/tickets-service.js";
import type { Bundle } from "../../policies/bundle/index.js";
import { openApiTools } from "../../policies/openapi/tools.js";
import { createUpstreamReadiness } from "../../runtime/server/readiness.js";
import { closeServer, listen } from "./mcp-fixtures.js";
import { TEST_CLIENTS, type TestPlatform, mcpHeaders, startTestPlatform } from "../support/gateway.js";

const SERVICE_TOKEN = "tickets-service-token-0123456789";
const EXCHANGE_AUDIENCE = "http://tickets.test";
const KEY = ["AKIA", "Z7QW3XK9PL2MN4TR"].join("");

let service: TicketsService;
let exchanged: TicketsService;
let platform: TestPlatform;
let silent: Server;
let silentUrl: string;
const clients: Client[] = [];

beforeAll(async () => {
  service = await startTicketsService({ token: SERVICE_TOKEN });
  exchanged = await startTicketsService();
  // Accepts requests and never answers them.
  silent = createServer(() => undefined);
  silentUrl = await listen(silent);
  const document = await OpenApiDocument.fromFile(TICKETS_DOCUMENT);
  const { tools, problems } = openApiTools(document.document, { upstreamId: "tickets" });
  expect(problems).toEqual([]);
  const operations = tools.map((t) => t.operation);
  const read = tools.filter((t) => t.access === "read").map((t) => t.operation.tool);
  const write = tools.filter((t) => t.access === "write").map((t) => t.operation.tool);
  platform = await startTestPlatform({
    exchangeAudiences: [EXCHANGE_AUDIENCE],
    env: {
      TICKETS_TOKEN: SERVICE_TOKEN,
      TG_DELEGATE_SECRET: TEST_CLIENTS.delegate.clientSecret,
      TG_WRONG_SECRET: "not-the-secret",
    },
    bundle: (bundle, { issuer }) => ({
      ...bundle,
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [
          {
            id: "tickets",
            transport: { type: "openapi", baseUrl: service.baseUrl, operations, maxResponseBytes: 4096 },
            credentials: {
              mode: "secret-header",
              header: "Authorization",
              prefix: "Bearer ",
              value: { env: "TICKETS_TOKEN" },
            },
            timeoutMs: 5_000,
          },
          {
            id: "delegated",
            transport: { type: "openapi", baseUrl: exchanged.baseUrl, operations },
            credentials: {
              mode: "token-exchange",
              tokenUrl: `${issuer}/token`,
              clientId: TEST_CLIENTS.delegate.clientId,
              clientSecret: { env: "TG_DELEGATE_SECRET" },
              audience: EXCHANGE_AUDIENCE,
            },
          },
          {
            id: "silent",
            transport: { type: "openapi", baseUrl: silentUrl, operations },
            timeoutMs: 1_000,
          },
          {
            id: "unauthorized",
            transport: { type: "openapi", baseUrl: service.baseUrl, operations },
            credentials: {
              mode: "client-credentials",
              tokenUrl: `${issuer}/token`,
              clientId: TEST_CLIENTS.reader.clientId,
              clientSecret: { env: "TG_WRONG_SECRET" },
            },
          },
        ],
        grants: [
          { scope: "mcp:read", upstream: "unauthorized", tools: ["getTicket"] },
          { scope: "mcp:write", upstream: "silent", tools: ["getTicket"] },
          { scope: "mcp:read", upstream: "tickets", tools: read },
          { scope: "mcp:write", upstream: "tickets", tools: [...write, "deleteTicket"] },
          { scope: "mcp:read", upstream: "delegated", tools: read },
        ],
        deny: [],
        alwaysBlocked: [{ upstream: "*", tools: ["*delete*"], reason: "destructive" }],
      },
    }),
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await platform?.close();
  await service?.close();
  await exchanged?.close();
  silent?.closeAllConnections();
  await closeServer(silent);
});

/** The MCP SDK client over streamable HTTP with a bearer token (the local platform's tour client). */
async function connect(token: string): Promise<Client> {
  const client = await connectMcp(platform.mcpUrl, token);
  clients.push(client);
  return client;
}

const textOf = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

describe("REST operations as MCP tools through the real gateway", () => {
  it("lists the operations a caller's scopes allow, with input schemas from the document", async () => {
    const reader = await connect(await platform.token("reader"));
    const { tools } = await reader.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "delegated__getTicket",
      "delegated__listTickets",
      "tickets__getTicket",
      "tickets__listTickets",
      "unauthorized__getTicket",
    ]);
    const get = tools.find((t) => t.name === "tickets__getTicket");
    expect(get?.inputSchema).toMatchObject({
      type: "object",
      properties: { ticketId: { type: "string", pattern: "^T-[0-9]+$" } },
      required: ["ticketId"],
      additionalProperties: false,
    });
    expect(get?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });

    const writer = await connect(await platform.token("writer"));
    const names = (await writer.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["tickets__createTicket", "tickets__updateTicket"]));
    expect(names).not.toContain("tickets__deleteTicket"); // granted, but always blocked: never listed
  });

  it("a call becomes an HTTP request with the upstream's own credential, and its JSON answer the result", async () => {
    const writer = await connect(await platform.token("writer"));
    const created = await writer.callTool({
      name: "tickets__createTicket",
      arguments: { body: { title: "Disk full on build-3", assignee: "carol" } },
    });
    expect(created.isError).toBeFalsy();
    const ticket = JSON.parse(textOf(created)) as { id: string; status: string };
    expect(ticket).toMatchObject({ title: "Disk full on build-3", status: "open", assignee: "carol" });

    const updated = await writer.callTool({
      name: "tickets__updateTicket",
      arguments: { ticketId: ticket.id, body: { status: "closed" } },
    });
    expect(JSON.parse(textOf(updated))).toMatchObject({ id: ticket.id, status: "closed" });

    const listed = await writer.callTool({ name: "tickets__listTickets", arguments: { status: "closed", limit: 5 } });
    expect((JSON.parse(textOf(listed)) as { tickets: { id: string }[] }).tickets.map((t) => t.id)).toEqual([ticket.id]);
    const last = service.received.at(-1);
    expect(last?.target).toBe("/v1/tickets?status=closed&limit=5");
    expect(last?.headers.authorization).toBe(`Bearer ${SERVICE_TOKEN}`);
  });

  it("the service never sees the caller's token or headers", async () => {
    const token = await platform.token("reader");
    const before = service.received.length;
    const reader = await connect(token);
    await reader.callTool({ name: "tickets__getTicket", arguments: { ticketId: "T-1" } });
    const seen = service.received.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const request of seen) {
      expect(JSON.stringify(request)).not.toContain(token);
      expect(request.headers.authorization).toBe(`Bearer ${SERVICE_TOKEN}`);
      expect(request.headers["mcp-session-id"]).toBeUndefined();
      expect(request.headers["mcp-protocol-version"]).toBeUndefined();
    }
  });

  it("token exchange: the service gets a token for its own audience, on behalf of the user, not the user's token", async () => {
    const token = await platform.userToken("alice", ["mcp:read"]);
    const user = await connect(token);
    const result = await user.callTool({ name: "delegated__getTicket", arguments: { ticketId: "T-2" } });
    expect(JSON.parse(textOf(result))).toMatchObject({ id: "T-2" });
    const bearer = /^Bearer (.+)$/.exec(String(exchanged.received.at(-1)?.headers.authorization))?.[1];
    expect(bearer).toBeDefined();
    expect(bearer).not.toBe(token);
    const claims = decodeJwt(bearer as string);
    expect(claims.aud).toBe(EXCHANGE_AUDIENCE);
    expect(claims.sub).toBe(decodeJwt(token).sub);
  });

  it("a read-only caller is refused a write operation with insufficient_scope naming mcp:write", async () => {
    const token = await platform.token("reader");
    const reader = await connect(token);
    const before = service.received.length;
    await expect(
      reader.callTool({ name: "tickets__createTicket", arguments: { body: { title: "x" } } }),
    ).rejects.toThrow();
    const sessionId = (reader.transport as StreamableHTTPClientTransport).sessionId;
    const response = await fetch(platform.mcpUrl, {
      method: "POST",
      headers: { ...mcpHeaders(token), "mcp-protocol-version": "2025-11-25", "mcp-session-id": sessionId ?? "" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "tickets__createTicket", arguments: { body: { title: "x" } } },
      }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(response.headers.get("www-authenticate")).toContain("mcp:write");
    await response.arrayBuffer();
    expect(service.received.length).toBe(before);
  });

  it("a DELETE operation is always blocked, even for a caller whose scopes grant it", async () => {
    const writer = await connect(await platform.token("writer"));
    const before = service.received.length;
    await expect(writer.callTool({ name: "tickets__deleteTicket", arguments: { ticketId: "T-1" } })).rejects.toThrow(
      /always-blocked/,
    );
    expect(service.received.length).toBe(before);
    expect(service.tickets.has("T-1")).toBe(true);
  });

  it("a path parameter cannot climb out of its template (attacker)", async () => {
    const reader = await connect(await platform.token("reader"));
    const before = service.received.length;
    const escaped = await reader.callTool({ name: "tickets__getTicket", arguments: { ticketId: "../../admin" } });
    expect(escaped.isError).toBe(true);
    expect(service.received.slice(before).map((r) => r.target)).toEqual(["/v1/tickets/..%2F..%2Fadmin"]);
    for (const ticketId of ["..", ".", "%2e%2e", ""]) {
      const result = await reader.callTool({ name: "tickets__getTicket", arguments: { ticketId } });
      expect(result.isError).toBe(true);
    }
    const targets = service.received.slice(before + 1).map((r) => r.target);
    expect(targets).toEqual(["/v1/tickets/%252e%252e"]); // "." and ".." and "" never left the gateway
  });

  it("undeclared arguments and header injection are refused before anything is sent", async () => {
    const writer = await connect(await platform.token("writer"));
    const before = service.received.length;
    const extra = await writer.callTool({
      name: "tickets__getTicket",
      arguments: { ticketId: "T-1", authorization: "Bearer stolen" },
    });
    expect(extra.isError).toBe(true);
    expect(textOf(extra)).toContain('unknown argument "authorization"');
    const missing = await writer.callTool({ name: "tickets__updateTicket", arguments: { ticketId: "T-1" } });
    expect(textOf(missing)).toContain('missing required argument "body"');
    const nested = await writer.callTool({ name: "tickets__listTickets", arguments: { status: { $ne: 1 } } });
    expect(nested.isError).toBe(true);
    expect(service.received.length).toBe(before);
  });

  it("a non-2xx answer is an error result with its status; an oversized answer is refused", async () => {
    const reader = await connect(await platform.token("reader"));
    const missing = await reader.callTool({ name: "tickets__getTicket", arguments: { ticketId: "T-999" } });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/^HTTP 404 .*no ticket T-999/);

    const writer = await connect(await platform.token("writer"));
    await writer.callTool({
      name: "tickets__createTicket",
      arguments: { body: { title: "big", description: "x".repeat(5_000) } },
    });
    const big = await writer.callTool({ name: "tickets__listTickets", arguments: {} });
    expect(big.isError).toBe(true);
    expect(textOf(big)).toContain("larger than 4096 bytes");
  });

  it("tool results pass the guards: a credential in a ticket is withheld, and audit records the call", async () => {
    const writer = await connect(await platform.token("writer"));
    const created = await writer.callTool({
      name: "tickets__createTicket",
      arguments: { body: { title: "leak", description: "short" } },
    });
    // The argument guard blocks a credential on the way in...
    const blocked = await writer.callTool({
      name: "tickets__createTicket",
      arguments: { body: { title: "leak", description: `aws_access_key_id = ${KEY}` } },
    });
    expect(textOf(blocked)).toContain("refused by guard");
    // ...and the result guard on the way out (the service holds one already).
    const id = (JSON.parse(textOf(created)) as { id: string }).id;
    const ticket = service.tickets.get(id) as { description?: string };
    ticket.description = `aws_access_key_id = ${KEY}`;
    const read = await writer.callTool({ name: "tickets__getTicket", arguments: { ticketId: id } });
    expect(textOf(read)).toContain("withheld by guard");
    expect(JSON.stringify(read)).not.toContain(KEY);
    const event = platform.audit.find(
      (e) => e.tool === "tickets__getTicket" && e.upstream === "tickets" && e.decision === "block",
    );
    expect(event).toMatchObject({ rule: "guard: credential-leak", principal: expect.any(String) });
  });

  it("when the gateway cannot get its own credentials, the call is an error result and nothing is sent", async () => {
    const reader = await connect(await platform.token("reader"));
    const before = service.received.length;
    const result = await reader.callTool({ name: "unauthorized__getTicket", arguments: { ticketId: "T-1" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe("the gateway could not obtain its credentials for this service");
    expect(service.received.length).toBe(before);
  });

  it("a service that does not answer in time is an error result naming the deadline, within the upstream's timeout", async () => {
    const writer = await connect(await platform.token("writer"));
    const started = Date.now();
    const result = await writer.callTool({ name: "silent__getTicket", arguments: { ticketId: "T-1" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe("no answer within 900 ms");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("readiness of an OpenAPI upstream", () => {
  it("a required OpenAPI upstream is probed at its base URL: up while the service answers, down once it stops", async () => {
    const alive = await startTicketsService();
    const bundleWith = (baseUrl: string) =>
      ({
        server: { readiness: { requiredUpstreams: ["tickets"], probeIntervalSeconds: 300 } },
        llm: { routes: [] },
        mcp: { upstreams: [{ id: "tickets", transport: { type: "openapi", baseUrl, operations: [] } }] },
      }) as unknown as Bundle;
    const up = createUpstreamReadiness(bundleWith(alive.baseUrl));
    expect(await up.states()).toEqual([{ id: "tickets", kind: "mcp", state: "up" }]);
    up.close();
    await alive.close();
    const down = createUpstreamReadiness(bundleWith(alive.baseUrl));
    expect(await down.states()).toEqual([
      { id: "tickets", kind: "mcp", state: "down", detail: expect.stringContaining("connection failed") },
    ]);
    down.close();
  });
});
