/**
 * Audit, traces and metrics through the real gateway: real tokens from the oidc-provider Okta stand-in,
 * the official OpenAI client against the LLM wire-format stand-in, the MCP SDK client against
 * server-memory (stdio) and an SDK streamable-HTTP upstream behind a header-recording hop. Spans go to an
 * in-memory exporter, audit lines through pino into a captured stream, metrics to the admin port.
 * Then everything captured is scanned for the bearer tokens, the provider key and an SSN sent in a prompt.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ExportResult } from "@opentelemetry/core";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { type RunningGateway, startGateway } from "../../runtime/server/index.js";
import { freePort, TEST_CLIENTS } from "../support/gateway.js";
import { sampleBundle } from "../support/sample-bundle.js";
import { closeServer, type HttpUpstream, listen, SERVER_MEMORY_ENTRY, startHttpUpstream } from "./mcp-fixtures.js";

// Built at runtime so this file holds no literal credential.
const PROVIDER_KEY = ["sk", "proj", "Obs3rvab1l1tyPr0v1derKey0123456789"].join("-");
const SSN = "123-45-6789";

/** Spans as they end; `next(pred)` resolves when a matching span has been exported. */
class WaitingExporter extends InMemorySpanExporter {
  private waiters: { pred: (s: ReadableSpan) => boolean; resolve: (s: ReadableSpan) => void }[] = [];
  override export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    super.export(spans, done);
    for (const span of spans) {
      for (const w of this.waiters.filter((w) => w.pred(span))) w.resolve(span);
      this.waiters = this.waiters.filter((w) => !w.pred(span));
    }
  }
  next(pred: (s: ReadableSpan) => boolean): Promise<ReadableSpan> {
    const found = this.getFinishedSpans().find(pred);
    return found ? Promise.resolve(found) : new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

/** Audit lines as pino writes them; `next(pred)` resolves when a matching line arrives. */
class AuditCapture extends Writable {
  text = "";
  private waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    for (const line of this.lines()) {
      for (const w of this.waiters.filter((w) => w.pred(line))) w.resolve(line);
      this.waiters = this.waiters.filter((w) => !w.pred(line));
    }
    callback();
  }
  lines(): Record<string, unknown>[] {
    return this.text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  next(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const found = this.lines().find(pred);
    return found ? Promise.resolve(found) : new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

/** A plain HTTP hop in front of an upstream that records the headers the gateway sent. */
async function recordingHop(target: string): Promise<{ url: string; headers: IncomingHttpHeaders[]; server: Server }> {
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    headers.push(req.headers);
    const upstream = httpRequest(
      new URL(req.url ?? "/", target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  return { url: `${await listen(server)}/mcp`, headers, server };
}

let dir: string;
let as: AuthServer;
let llm: LlmUpstream;
let web: HttpUpstream;
let hop: Awaited<ReturnType<typeof recordingHop>>;
let gateway: RunningGateway;
const spans = new WaitingExporter();
const audit = new AuditCapture();
const tokens: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-obs-e2e-"));
  llm = await startLlmUpstream();
  web = await startHttpUpstream();
  hop = await recordingHop(web.url.replace(/\/mcp$/, ""));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  as = await startAuthServer({
    audience: url,
    scopes: ["mcp:read", "mcp:write", "mcp:admin"],
    clients: [TEST_CLIENTS.writer, TEST_CLIENTS.admin],
  });
  const bundle = sampleBundle({ issuer: as.issuer, publicUrl: url });
  bundle.llm = {
    routes: [
      {
        id: "openai",
        pathPrefix: "/openai",
        policy: "default",
        providers: [{ id: "openai", kind: "openai", baseUrl: `${llm.url}/v1`, apiKey: { env: "OBS_OPENAI_KEY" } }],
      },
    ],
  };
  bundle.mcp = {
    path: "/mcp",
    policy: "default",
    upstreams: [
      {
        id: "memory",
        transport: {
          type: "stdio",
          command: "node",
          args: [SERVER_MEMORY_ENTRY],
          env: { MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
        },
      },
      { id: "web", transport: { type: "streamable-http", url: hop.url } },
    ],
    grants: [
      { scope: "mcp:write", upstream: "memory", tools: ["create_*", "read_graph"] },
      { scope: "mcp:write", upstream: "web", tools: ["get_*", "set_*"] },
    ],
    deny: [],
    alwaysBlocked: [{ upstream: "*", tools: ["*delete*", "drop_*"], reason: "destructive" }],
  };
  bundle.telemetry = {
    tracing: { enabled: true, serviceName: "tollgate-e2e" },
    metrics: { enabled: true, port: 9464 },
    audit: { capturePrompts: false },
  };
  gateway = await startGateway({
    source: { kind: "inline", bundle },
    port,
    env: { OBS_OPENAI_KEY: PROVIDER_KEY },
    log: () => undefined,
    watch: false,
    metricsServer: { port: 0 },
    telemetry: { spanExporter: spans, auditDestination: audit, defaultMetrics: false },
  });
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await as?.close();
  await llm?.close();
  await web?.close();
  if (hop) await closeServer(hop.server);
  rmSync(dir, { recursive: true, force: true });
});

async function token(role: "writer" | "admin"): Promise<string> {
  const client = TEST_CLIENTS[role];
  const t = (
    await as.clientCredentials({ clientId: client.clientId, clientSecret: client.clientSecret, scopes: client.scopes })
  ).access_token;
  tokens.push(t);
  return t;
}

const childrenOf = (root: ReadableSpan) =>
  spans.getFinishedSpans().filter((s) => s.spanContext().traceId === root.spanContext().traceId);

describe("observability through the real gateway", () => {
  it("an LLM call leaves one audit line and a trace of authenticate, limit, request guard, upstream and response guard spans; the provider gets the traceparent", async () => {
    const bearer = await token("writer");
    const openai = new OpenAI({ apiKey: bearer, baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
    const completion = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: `My SSN is ${SSN}, summarise my account.` }],
    });
    expect(completion.choices[0]?.message.content).toBeTypeOf("string");

    const line = await audit.next((l) => l["kind"] === "llm" && l["route"] === "openai");
    expect(line).toMatchObject({
      msg: "audit",
      decision: "redact",
      principal: TEST_CLIENTS.writer.clientId,
      client: TEST_CLIENTS.writer.clientId,
      route: "openai",
      provider: "openai",
      model: "gpt-4o-mini",
      status: 200,
      redactions: { ssn: 1 },
    });
    expect(line["tokensIn"]).toBeGreaterThan(0);
    expect(line["tokensOut"]).toBeGreaterThan(0);
    expect(line["latencyMs"]).toBeTypeOf("number");
    expect(line["time"]).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(line["traceId"]).toMatch(/^[0-9a-f]{32}$/);

    const root = await spans.next((s) => s.name === "tollgate.request" && s.spanContext().traceId === line["traceId"]);
    expect(root.attributes).toMatchObject({
      "enduser.id": TEST_CLIENTS.writer.clientId,
      "tollgate.client.id": TEST_CLIENTS.writer.clientId,
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.usage.input_tokens": line["tokensIn"],
      "gen_ai.usage.output_tokens": line["tokensOut"],
      "tollgate.decision": "redact",
      "http.response.status_code": 200,
    });
    const trace = childrenOf(root);
    expect(trace.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        "tollgate.authenticate",
        "tollgate.limit",
        "tollgate.guard.request",
        "tollgate.upstream",
        "tollgate.guard.response",
      ]),
    );
    const upstreamSpan = trace.find((s) => s.name === "tollgate.upstream")!;
    expect(upstreamSpan.attributes).toMatchObject({
      "gen_ai.system": "openai",
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "gpt-4o-mini",
      "tollgate.provider": "openai",
    });
    for (const child of trace.filter((s) => s !== root))
      expect(child.parentSpanContext?.traceId).toBe(root.spanContext().traceId);

    const received = llm.requests.at(-1)!;
    expect(received.headers["traceparent"]).toBe(
      `00-${upstreamSpan.spanContext().traceId}-${upstreamSpan.spanContext().spanId}-01`,
    );
    expect(received.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(received.rawBody).not.toContain(SSN);
  });

  it("an MCP tool call is audited with tool, upstream and rule; a destructive call as refused by the always-blocked rule; the HTTP upstream gets the traceparent", async () => {
    const bearer = await token("writer");
    const client = new Client({ name: "obs-e2e", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${bearer}` } },
      }),
    );
    try {
      const result = await client.callTool({ name: "web__get_time", arguments: {} });
      expect(result.isError).not.toBe(true);
      const line = await audit.next(
        (l) => l["kind"] === "mcp" && l["tool"] === "web__get_time" && l["decision"] === "allow",
      );
      expect(line).toMatchObject({
        upstream: "web",
        method: "tools/call",
        rule: "scope: mcp:write",
        principal: TEST_CLIENTS.writer.clientId,
      });
      const root = await spans.next(
        (s) => s.name === "tollgate.request" && s.spanContext().traceId === line["traceId"],
      );
      const upstreamSpan = childrenOf(root).find((s) => s.name === "tollgate.upstream")!;
      expect(upstreamSpan.attributes).toMatchObject({
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "web__get_time",
        "tollgate.upstream": "web",
      });
      expect(childrenOf(root).map((s) => s.name)).toEqual(
        expect.arrayContaining(["tollgate.limit", "tollgate.guard.tool-arguments", "tollgate.guard.tool-result"]),
      );
      expect(
        hop.headers.some((h) => h["traceparent"]?.toString().startsWith(`00-${root.spanContext().traceId}-`)),
      ).toBe(true);
      expect(hop.headers.every((h) => h["authorization"] === undefined)).toBe(true);

      await client.callTool({ name: "web__drop_table", arguments: {} }).catch(() => undefined);
      const refused = await audit.next((l) => l["kind"] === "mcp" && l["tool"] === "web__drop_table");
      expect(refused).toMatchObject({
        decision: "block",
        rule: "always-blocked: destructive",
        principal: TEST_CLIENTS.writer.clientId,
        upstream: "web",
      });
    } finally {
      await client.close();
    }
  });

  it("a request with a bad token is audited as an auth denial, and the token appears nowhere", async () => {
    const forged = `${(await token("writer")).slice(0, -8)}AAAAAAAA`;
    tokens.push(forged);
    const response = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${forged}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(401);
    const line = await audit.next((l) => l["kind"] === "auth" && l["decision"] === "deny" && l["status"] === 401);
    expect(line["traceId"]).toMatch(/^[0-9a-f]{32}$/);
    await spans.next((s) => s.name === "tollgate.request" && s.spanContext().traceId === line["traceId"]);
  });

  it("the admin port serves request, token, latency, health and bundle metrics without per-user labels", async () => {
    const text = await (await fetch(gateway.metricsUrl!)).text();
    expect(text).toMatch(/tollgate_requests_total\{kind="llm",route="openai",decision="redact"\} [1-9]/);
    expect(text).toMatch(/tollgate_requests_total\{kind="mcp",route="mcp",decision="allow"\} [1-9]/);
    expect(text).toMatch(/tollgate_tokens_total\{route="openai",provider="openai",direction="input"\} [1-9]/);
    expect(text).toMatch(
      /tollgate_upstream_latency_seconds_count\{kind="llm",target="openai",provider="openai",outcome="ok"\} [1-9]/,
    );
    expect(text).toMatch(
      /tollgate_upstream_latency_seconds_count\{kind="mcp",target="web",provider="web",outcome="ok"\} [1-9]/,
    );
    expect(text).toMatch(/tollgate_guard_hits_total\{guard="pii",action="redact"\} [1-9]/);
    expect(text).toMatch(/tollgate_mcp_upstream_up\{upstream="web"\} 1/);
    expect(text).toContain(`tollgate_bundle_info{digest="${gateway.active().config.digest}"`);
    expect(text).not.toContain(TEST_CLIENTS.writer.clientId);
  });

  it("no bearer token, provider key or prompt SSN appears in any audit line, span or metric", async () => {
    const metrics = await (await fetch(gateway.metricsUrl!)).text();
    const spanText = JSON.stringify(
      spans.getFinishedSpans().map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        status: s.status,
        links: s.links,
        resource: s.resource.attributes,
      })),
    );
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    expect(audit.lines().length).toBeGreaterThan(3);
    for (const secret of [...tokens, PROVIDER_KEY, SSN]) {
      expect(audit.text).not.toContain(secret);
      expect(spanText).not.toContain(secret);
      expect(metrics).not.toContain(secret);
    }
    expect(spanText.toLowerCase()).not.toContain("authorization");
  });
});
