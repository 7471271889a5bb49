import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { orThrow, validateRuntimeBundle } from "../../policies/bundle/index.js";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bufferedAuditDestination,
  createAuditLog,
  createTelemetry,
  createTracing,
  flushAuditOutput,
  type Telemetry,
} from "../../runtime/observability/index.js";
import { isoNow } from "../../runtime/observability/audit.js";
import { sampleBundle } from "../support/sample-bundle.js";

const bundle = orThrow(validateRuntimeBundle(sampleBundle()));
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
const OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";

function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return {
    stream,
    lines: () =>
      text
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const open: Telemetry[] = [];
function telemetry(overrides: { capturePrompts?: boolean } = {}) {
  const exporter = new InMemorySpanExporter();
  const audit = capture();
  const config = { ...bundle.telemetry, audit: { capturePrompts: overrides.capturePrompts ?? false } };
  const t = createTelemetry(config, {
    bundle: { bundle, digest: "sha256:" + "a".repeat(64) },
    auditDestination: audit.stream,
    spanExporter: exporter,
    defaultMetrics: false,
  });
  open.push(t);
  return { t, exporter, audit };
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe("audit lines", () => {
  it("carry time, trace id of the active span, principal, client, route, decision, rule, latency, tokens and provider", async () => {
    const { t, audit } = telemetry();
    const traceId = await t.withSpan("tollgate.request", {}, (span) => {
      t.audit.record({
        kind: "llm",
        decision: "allow",
        principal: "alice",
        client: "research-agent",
        route: "openai",
        provider: "openai",
        model: "gpt-4o",
        rule: "route: openai",
        latencyMs: 12,
        tokensIn: 10,
        tokensOut: 5,
      });
      return span.traceId;
    });
    const [line] = audit.lines();
    expect(line).toMatchObject({
      msg: "audit",
      audit: true,
      traceId,
      principal: "alice",
      client: "research-agent",
      route: "openai",
      provider: "openai",
      model: "gpt-4o",
      decision: "allow",
      rule: "route: openai",
      latencyMs: 12,
      tokensIn: 10,
      tokensOut: 5,
    });
    expect(new Date(line!["time"] as string).toString()).not.toBe("Invalid Date");
  });

  it("drop the prompt unless capturePrompts is on", () => {
    const off = telemetry();
    off.t.audit.record({ kind: "llm", decision: "redact", prompt: "my email is [email]" });
    expect(off.audit.lines()[0]).not.toHaveProperty("prompt");
    const on = telemetry({ capturePrompts: true });
    on.t.audit.record({ kind: "llm", decision: "redact", prompt: "my email is [email]" });
    expect(on.audit.lines()[0]).toHaveProperty("prompt", "my email is [email]");
  });

  it("never carry a token or a key, even when a caller passes one by mistake", () => {
    const { t, audit } = telemetry({ capturePrompts: true });
    t.audit.record({ kind: "auth", decision: "deny", reason: `bad token Bearer ${JWT}`, prompt: `use ${OPENAI_KEY}` });
    const text = JSON.stringify(audit.lines());
    expect(text).not.toContain(JWT);
    expect(text).not.toContain(OPENAI_KEY);
    expect(text).toContain("[scrubbed]");
  });

  it("scrub a short Basic or Bearer credential in any case (too short for the key formats: only its scheme gives it away)", () => {
    const { t, audit } = telemetry();
    t.audit.record({ kind: "auth", decision: "deny", reason: "sent BASIC dXNlcjpwYXNz", rule: "bearer q1w2e3r4t5" });
    t.audit.record({ kind: "auth", decision: "deny", reason: "sent Basic dXNlcjpwYXNz", rule: "a Bearer q1w2e3r4t5" });
    const text = JSON.stringify(audit.lines());
    expect(text).not.toContain("dXNlcjpwYXNz");
    expect(text).not.toContain("q1w2e3r4t5");
    expect(audit.lines()[0]).toMatchObject({ reason: "sent BASIC [scrubbed]", rule: "bearer [scrubbed]" });
  });

  it("scrub a key passed as principal on every line, not only the first, and a request id that is not the gateway's own", () => {
    const { t, audit } = telemetry();
    for (let i = 0; i < 3; i++)
      t.audit.record({
        kind: "llm",
        decision: "allow",
        principal: OPENAI_KEY,
        client: OPENAI_KEY,
        requestId: i === 2 ? OPENAI_KEY : "0f8fad5b-d9cb-469f-a165-70867728950e",
      });
    const lines = audit.lines();
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatchObject({ principal: "[scrubbed]", client: "[scrubbed]" });
    expect(lines[0]).toHaveProperty("requestId", "0f8fad5b-d9cb-469f-a165-70867728950e");
    expect(lines[2]).toHaveProperty("requestId", "[scrubbed]");
  });
});

describe("audit lines by construction", () => {
  it("hold only the audit fields: a field a caller smuggles in, a non-number count or an object where text belongs never reaches the line", () => {
    const { t, audit } = telemetry();
    const event = {
      kind: "llm",
      decision: "allow",
      route: "openai",
      headers: { authorization: `Bearer ${JWT}` },
      body: "raw prompt",
      status: "200",
      model: { nested: OPENAI_KEY },
      redactions: { email: 2, evil: "x" },
    };
    t.audit.record(event as unknown as Parameters<Telemetry["audit"]["record"]>[0]);
    const line = audit.lines()[0]!;
    expect(Object.keys(line).sort()).toEqual(["audit", "decision", "kind", "msg", "redactions", "route", "time"]);
    expect(line["redactions"]).toEqual({ email: 2 });
    expect(JSON.stringify(line)).not.toContain(OPENAI_KEY);
  });

  it("reach a file through the buffered asynchronous destination once flushed, every line intact", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-audit-"));
    try {
      const file = join(dir, "audit.log");
      const log = createAuditLog(bufferedAuditDestination(file));
      for (let i = 0; i < 500; i++)
        log.record({ kind: "llm", decision: "allow", route: "openai", requestId: `r-${i}`, latencyMs: i });
      await flushAuditOutput();
      const lines = (await readFile(file, "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l["requestId"])).toEqual(Array.from({ length: 500 }, (_, i) => `r-${i}`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("carry the time as Date#toISOString would write it, across second, day and year boundaries", () => {
    const moments = [Date.UTC(2026, 11, 31, 23, 59, 59, 998), Date.UTC(2027, 0, 1), 1, 999, 1000, 1_764_620_000_000];
    for (const base of moments)
      for (let ms = base - 3; ms <= base + 3; ms++) expect(isoNow(ms)).toBe(new Date(ms).toISOString());
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor(Math.random() * 4_000_000_000_000);
      expect(isoNow(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it("are written one line per event, each a JSON object", () => {
    const { t, audit } = telemetry();
    for (let i = 0; i < 3; i++)
      t.audit.record({ kind: "auth", decision: "deny", reason: `attempt ${i} with "quotes" and \n newline` });
    const lines = audit.lines();
    expect(lines.map((l) => l["reason"])).toEqual([0, 1, 2].map((i) => `attempt ${i} with "quotes" and \n newline`));
  });
});

describe("spans", () => {
  it("nest, carry GenAI and end-user attributes, and never an Authorization header", async () => {
    const { t, exporter } = telemetry();
    await t.withSpan(
      "tollgate.request",
      { "enduser.id": "alice", "http.request.header.authorization": `Bearer ${JWT}` },
      () =>
        t.withSpan("tollgate.upstream", { "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o" }, (span) =>
          span.setAttributes({ "gen_ai.usage.input_tokens": 10, note: `key ${OPENAI_KEY}` }),
        ),
    );
    const spans = exporter.getFinishedSpans();
    const upstream = spans.find((s) => s.name === "tollgate.upstream")!;
    const request = spans.find((s) => s.name === "tollgate.request")!;
    expect(upstream.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(upstream.attributes).toMatchObject({
      "gen_ai.system": "openai",
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.usage.input_tokens": 10,
    });
    expect(request.attributes).toEqual({ "enduser.id": "alice" });
    const text = JSON.stringify(spans.map((s) => ({ a: s.attributes, e: s.events, st: s.status })));
    expect(text).not.toContain(JWT);
    expect(text).not.toContain(OPENAI_KEY);
  });

  it("mark a failed stage as an error and rethrow", async () => {
    const { t, exporter } = telemetry();
    await expect(
      t.withSpan("tollgate.guard.pii", {}, () => Promise.reject(new TypeError(`boom ${OPENAI_KEY}`))),
    ).rejects.toThrow("boom");
    const [span] = exporter.getFinishedSpans();
    expect(span!.status).toMatchObject({ code: 2 });
    expect(span!.status.message).not.toContain(OPENAI_KEY);
    expect(span!.attributes["error.type"]).toBe("TypeError");
  });

  it("continue an incoming traceparent and propagate W3C traceparent to a real upstream", async () => {
    const { t } = telemetry();
    let seen: IncomingMessage["headers"] | undefined;
    const upstream = createServer((req, res) => {
      seen = req.headers;
      res.end("ok");
    }).listen(0, "127.0.0.1");
    await once(upstream, "listening");
    try {
      const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      await t.withSpan(
        "tollgate.request",
        {},
        () =>
          t.withSpan("tollgate.upstream", {}, async () => {
            const headers = t.injectTraceHeaders({ "content-type": "application/json" });
            await fetch(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, { headers });
          }),
        { incomingHeaders: { traceparent: incoming } },
      );
      expect(seen?.["traceparent"]).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
      expect(seen?.["authorization"]).toBeUndefined();
    } finally {
      upstream.close();
    }
  });

  it("are exported over OTLP/HTTP to the endpoint named by OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", async () => {
    const posts: { url: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        posts.push({ url: req.url ?? "", body });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        collector.emit("export");
      });
    }).listen(0, "127.0.0.1");
    await once(collector, "listening");
    const saved = { ...process.env };
    process.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] =
      `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    process.env["OTEL_TRACES_EXPORTER"] = "otlp";
    try {
      const tracing = createTracing({ enabled: true, serviceName: "tollgate-test" });
      await tracing.withSpan("tollgate.request", { "enduser.id": "alice" }, () => undefined);
      const exported = once(collector, "export");
      await tracing.close();
      await exported;
      expect(posts[0]?.url).toBe("/v1/traces");
      expect(posts[0]?.body).toContain("tollgate.request");
      expect(posts[0]?.body).toContain("tollgate-test");
    } finally {
      process.env = saved;
      collector.close();
    }
  });

  it("record no trace id and inject nothing when tracing is off", async () => {
    const tracing = createTracing({ enabled: false, serviceName: "x" });
    const headers = await tracing.withSpan("tollgate.request", {}, () =>
      tracing.injectTraceHeaders({} as Record<string, string>),
    );
    expect(headers).toEqual({});
    expect(await tracing.withSpan("s", {}, () => tracing.currentTraceId())).toBeUndefined();
  });
});

describe("metrics", () => {
  it("count requests by route and decision, tokens by provider, guard hits and rate-limit rejections, on the admin port", async () => {
    const { t } = telemetry();
    t.audit.record({
      kind: "llm",
      decision: "allow",
      route: "openai",
      provider: "openai",
      principal: "alice",
      tokensIn: 10,
      tokensOut: 4,
    });
    t.audit.record({
      kind: "llm",
      decision: "block",
      route: "openai",
      rule: "guard: prompt-injection",
      principal: "alice",
    });
    t.audit.record({ kind: "llm", decision: "rate-limited", route: "anthropic", principal: "bob" });
    t.audit.record({
      kind: "mcp",
      decision: "deny",
      route: "mcp",
      tool: "github__merge_pull_request",
      principal: "bob",
    });
    t.audit.record({ kind: "llm", decision: "allow", route: "alice-made-this-up", principal: "alice" });
    t.metrics.observeUpstream("llm", "openai", "openai", 0.2, "ok");
    t.metrics.setMcpUpstreamHealth("github", true);
    t.metrics.bundleReload(true);
    const server = await t.serveMetrics({ port: 0, host: "127.0.0.1" });
    const text = await (await fetch(`http://127.0.0.1:${server!.port}/metrics`)).text();
    expect(text).toContain('tollgate_requests_total{kind="llm",route="openai",decision="allow"} 1');
    expect(text).toContain('tollgate_requests_total{kind="llm",route="other",decision="allow"} 1');
    expect(text).toContain('tollgate_requests_total{kind="mcp",route="mcp",decision="deny"} 1');
    expect(text).toContain('tollgate_tokens_total{route="openai",provider="openai",direction="input"} 10');
    expect(text).toContain('tollgate_guard_hits_total{guard="prompt-injection",action="block"} 1');
    expect(text).toContain('tollgate_rate_limit_rejections_total{route="anthropic"} 1');
    expect(text).toContain(
      'tollgate_upstream_latency_seconds_count{kind="llm",target="openai",provider="openai",outcome="ok"} 1',
    );
    // 0.2 s falls in the 0.25 bucket: buckets below it are 0, from it on cumulative 1, +Inf = count.
    expect(text).toContain("# TYPE tollgate_upstream_latency_seconds histogram");
    expect(text).toContain(
      'tollgate_upstream_latency_seconds_bucket{kind="llm",target="openai",provider="openai",outcome="ok",le="0.1"} 0',
    );
    expect(text).toContain(
      'tollgate_upstream_latency_seconds_bucket{kind="llm",target="openai",provider="openai",outcome="ok",le="0.25"} 1',
    );
    expect(text).toContain(
      'tollgate_upstream_latency_seconds_bucket{kind="llm",target="openai",provider="openai",outcome="ok",le="+Inf"} 1',
    );
    expect(text).toContain(
      'tollgate_upstream_latency_seconds_sum{kind="llm",target="openai",provider="openai",outcome="ok"} 0.2',
    );
    expect(text).toContain('tollgate_mcp_upstream_up{upstream="github"} 1');
    expect(text).toContain('tollgate_bundle_reloads_total{result="ok"} 1');
    expect(text).toMatch(/tollgate_bundle_info\{digest="sha256:a{64}",environment="dev",stack="tollgate-dev"\} 1/);
    expect(text).not.toMatch(/alice|bob/);
  });
});
