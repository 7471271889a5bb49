/**
 * Audit events of the LLM stage: one per decision, with tokens from provider usage, never a raw prompt;
 * the post-redaction prompt only when the bundle turns capturePrompts on.
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import { startLlmStage } from "../support/llm-stage.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function serve(capturePrompts: boolean) {
  const upstream = await startLlmUpstream();
  const stage = await startLlmStage(
    (b) => {
      b.llm = {
        routes: [
          {
            id: "chat",
            pathPrefix: "/chat",
            policy: "default",
            providers: [{ id: "vendor", kind: "openai", baseUrl: `${upstream.url}/v1`, apiKey: { env: "K" } }],
          },
        ],
      };
      b.telemetry = { audit: { capturePrompts } };
    },
    { secrets: { K: "gateway-key" } },
  );
  cleanups.push(async () => {
    await stage.close();
    await upstream.close();
  });
  const client = new OpenAI({ baseURL: `${stage.url}/chat/v1`, apiKey: "unused", maxRetries: 0 });
  return { client, audit: { events: stage.audit } };
}

describe("LLM audit events", () => {
  it("records who, provider, model, tokens and redaction counts, and no prompt by default", async () => {
    const { client, audit } = await serve(false);
    await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "mail jane@example.com please" }],
    });
    expect(audit.events).toHaveLength(1);
    const event = audit.events[0];
    expect(event).toMatchObject({
      kind: "llm",
      decision: "redact",
      principal: "alice",
      route: "chat",
      provider: "vendor",
      model: "gpt-4o-mini",
      redactions: { email: 1 },
      status: 200,
    });
    expect(event?.tokensIn).toBeGreaterThan(0);
    expect(event?.tokensOut).toBeGreaterThan(0);
    expect(event?.prompt).toBeUndefined();
    expect(JSON.stringify(audit.events)).not.toContain("jane@example.com");
  });

  it("captures the post-redaction prompt when capturePrompts is on, never the raw one", async () => {
    const { client, audit } = await serve(true);
    await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "SSN 123-45-6789 on file" }],
    });
    expect(audit.events[0]?.prompt).toBe("SSN [REDACTED:ssn] on file");
    expect(JSON.stringify(audit.events)).not.toContain("123-45-6789");
  });
});
