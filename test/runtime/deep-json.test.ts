/**
 * Input nested deeper than the gateway handles is the client's error on every route: a 4xx on an LLM
 * route, before the request is counted against the caller's budget; JSON-RPC "Invalid params" (-32602) for
 * MCP `tools/call` arguments, never an error blaming a healthy upstream.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayBundle, type HttpUpstream, startHttpUpstream } from "./mcp-fixtures.js";
import { type Harness, principal, startHarness } from "./mcp-harness.js";
import { type LlmStage, startLlmStage, chatRoute } from "../support/llm-stage.js";

/** `{"a":{"a":…}}` nested `depth` levels, as text (built without recursion). */
const nested = (depth: number, leaf = "1") => '{"a":'.repeat(depth) + leaf + "}".repeat(depth);

describe("deeply nested JSON on an LLM route", () => {
  let provider: ReturnType<typeof createServer>;
  let stage: LlmStage;
  let forwarded = 0;

  beforeAll(async () => {
    provider = createServer((req, res) => {
      forwarded += 1;
      req.resume();
      const body = JSON.stringify({
        id: "c",
        object: "chat.completion",
        created: 1,
        model: "m",
        choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
      req.on("end", () =>
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body),
      );
    });
    await new Promise<void>((resolve) => provider.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
    stage = await startLlmStage(
      (b) => {
        b.guardPolicies = [{ id: "default", limits: { windowSeconds: 60, requestsPerWindow: 1 } }];
        b.llm = chatRoute(url);
      },
      { secrets: { K: "provider-key" } },
    );
  });

  afterAll(async () => {
    await stage?.close();
    await new Promise<void>((resolve) => provider?.close(() => resolve()));
  });

  const post = (body: string) =>
    fetch(`${stage.url}/chat/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });

  it("answers 400 naming the nesting, without forwarding it or spending the caller's budget", async () => {
    const deep = `{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":${nested(100_000)}}`;
    const refused = await post(deep);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/deeper than 128/);
    expect(forwarded).toBe(0);
    // The one request of the window is still there.
    const ok = await post(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`);
    expect(ok.status).toBe(200);
    expect(forwarded).toBe(1);
  });

  it("answers 400 to a Messages body whose `system` nests too deep (the member the guard is handed a copy of)", async () => {
    const refused = await fetch(`${stage.url}/chat/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"model":"m","max_tokens":1,"system":[${nested(100_000)}],"messages":[{"role":"user","content":"hi"}]}`,
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/deeper than 128/);
    expect(forwarded).toBe(1);
  });
});

describe("deeply nested tools/call arguments on the MCP endpoint", () => {
  let dir: string;
  let web: HttpUpstream;
  let harness: Harness;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tollgate-deep-"));
    web = await startHttpUpstream();
    const bundle = gatewayBundle({ webUrl: web.url, memoryFile: join(dir, "memory.jsonl") });
    harness = await startHarness(bundle, { alice: principal("alice", ["mcp:read"]) });
  });

  afterAll(async () => {
    await harness?.close();
    await web?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers JSON-RPC Invalid params (-32602), and the upstream keeps serving", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(harness.url), {
      requestInit: { headers: { authorization: "Bearer alice" } },
    });
    const client = new Client({ name: "deep-agent", version: "1.0.0" });
    await client.connect(transport);
    try {
      let args: Record<string, unknown> = {};
      for (let i = 0; i < 1000; i++) args = { a: args };
      await expect(client.callTool({ name: "web__get_time", arguments: args })).rejects.toMatchObject({
        code: -32602,
      });
      const time = await client.callTool({ name: "web__get_time", arguments: {} });
      expect(time.isError).not.toBe(true);
    } finally {
      await client.close();
    }
  });
});
