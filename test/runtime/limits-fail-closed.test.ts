/**
 * Fail-closed limits: a guard-policy id the bundle does not define is refused, never "no limit"; and
 * `GET {prefix}/v1/models` is counted against the caller's budget and recorded like every other route.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimiter } from "../../runtime/limits/index.js";
import { llmTestConfig, testPrincipal } from "../support/llm-config.js";
import { type LlmStage, startLlmStage, chatRoute } from "../support/llm-stage.js";

describe("rate limiter with a policy id the bundle does not define", () => {
  it("refuses the request instead of admitting it without a limit", async () => {
    const limiter = await createRateLimiter(
      llmTestConfig((b) => {
        b.guardPolicies = [{ id: "default", limits: { windowSeconds: 60, requestsPerWindow: 100 } }];
      }),
    );
    const decision = await limiter.admitRequest(testPrincipal("mallory"), "typo-of-default");
    expect(decision).toMatchObject({ allowed: false, reason: 'unknown guard policy "typo-of-default"' });
    await limiter.close();
  });

  it("still admits a defined policy that sets no limits", async () => {
    const limiter = await createRateLimiter(
      llmTestConfig((b) => {
        b.guardPolicies = [{ id: "default" }];
      }),
    );
    expect((await limiter.admitRequest(testPrincipal("alice"), "default")).allowed).toBe(true);
    await limiter.close();
  });
});

describe("GET /v1/models", () => {
  let provider: ReturnType<typeof createServer>;
  let stage: LlmStage;
  let listed = 0;

  beforeAll(async () => {
    provider = createServer((_req, res) => {
      listed += 1;
      const body = JSON.stringify({ object: "list", data: [{ id: "m", object: "model", created: 1, owned_by: "x" }] });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    });
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
    stage = await startLlmStage(
      (b) => {
        b.guardPolicies = [{ id: "default", limits: { windowSeconds: 60, requestsPerWindow: 2 } }];
        b.llm = chatRoute(url);
      },
      { secrets: { K: "provider-key" }, subject: "scraper" },
    );
  });

  afterAll(async () => {
    await stage?.close();
    await new Promise<void>((resolve) => provider?.close(() => resolve()));
  });

  it("counts against the caller's request budget: past it, a 429 that never reaches the provider", async () => {
    const client = new OpenAI({ baseURL: `${stage.url}/chat/v1`, apiKey: "unused", maxRetries: 0 });
    const first = await client.models.list().withResponse();
    expect(first.response.headers.get("ratelimit")).toMatch(/remaining=1/);
    await client.models.list();
    await expect(client.models.list()).rejects.toMatchObject({ status: 429 });
    expect(listed).toBe(2);
  });

  it("records every listing, refused ones included, in the audit log", () => {
    const events = stage.audit.filter((e) => e.route === "chat" && e.principal === "scraper");
    expect(events.map((e) => e.decision)).toEqual(["allow", "allow", "rate-limited"]);
    expect(events.every((e) => e.kind === "llm")).toBe(true);
  });
});
