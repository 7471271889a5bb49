/**
 * Audit events of the LLM stage: one per decision, with tokens from provider usage, never a raw prompt;
 * the post-redaction prompt only when the bundle turns capturePrompts on.
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream";
import type { RequestContext } from "../../runtime/http/types";
import { createRateLimiter } from "../../runtime/limits";
import { createLlmGateway } from "../../runtime/llm";
import { createMemoryAuditLog } from "../../runtime/observability/audit";
import { llmTestConfig, testPrincipal } from "../support/llm-config";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function serve(capturePrompts: boolean) {
  const upstream: LlmUpstream = await startLlmUpstream();
  const config = llmTestConfig(
    (b) => {
      b.llm = { routes: [{ id: "chat", pathPrefix: "/chat", policy: "default", providers: [{ id: "vendor", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "K" } }] }] };
      b.telemetry = { audit: { capturePrompts } };
    },
    { K: "gateway-key" },
  );
  const audit = createMemoryAuditLog();
  const limiter = await createRateLimiter(config);
  const gateway = createLlmGateway(config, { audit, limiter });
  const server: Server = createServer((req, res) => {
    const handler = gateway.route(new URL(req.url ?? "/", "http://x").pathname);
    if (!handler) return void res.writeHead(404).end();
    const ctx: RequestContext = { requestId: "req-1", traceId: undefined, principal: testPrincipal("alice"), config, audit, signal: new AbortController().signal };
    void handler(ctx, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await gateway.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat/v1`, apiKey: "unused", maxRetries: 0 });
  return { client, audit };
}

describe("LLM audit events", () => {
  it("records who, provider, model, tokens and redaction counts, and no prompt by default", async () => {
    const { client, audit } = await serve(false);
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "mail jane@example.com please" }] });
    expect(audit.events).toHaveLength(1);
    const event = audit.events[0];
    expect(event).toMatchObject({ kind: "llm", decision: "redact", principal: "alice", route: "chat", provider: "vendor", model: "gpt-4o-mini", redactions: { email: 1 }, status: 200 });
    expect(event?.tokensIn).toBeGreaterThan(0);
    expect(event?.tokensOut).toBeGreaterThan(0);
    expect(event?.prompt).toBeUndefined();
    expect(JSON.stringify(audit.events)).not.toContain("jane@example.com");
  });

  it("captures the post-redaction prompt when capturePrompts is on, never the raw one", async () => {
    const { client, audit } = await serve(true);
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "SSN 123-45-6789 on file" }] });
    expect(audit.events[0]?.prompt).toBe("SSN [REDACTED:ssn] on file");
    expect(JSON.stringify(audit.events)).not.toContain("123-45-6789");
  });
});
