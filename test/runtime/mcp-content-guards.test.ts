/**
 * Guards on text that crosses the gateway outside tool calls, with the MCP guard policy (PII masked, credentials
 * blocked): a prompt's messages and a resource's contents on their way to the client, and sampling — what an
 * upstream asks the client's model, and the model's answer on its way back to the upstream. A real MCP server
 * upstream and a real SDK client with a sampling handler; binary resource contents pass untouched.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CreateMessageRequestSchema, type CreateMessageRequest } from "@modelcontextprotocol/sdk/types.js";
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeBundleSchema } from "../../policies/bundle/index.js";
import { namespacedUri } from "../../policies/tools/index.js";
import { createToolCallGuard } from "../../runtime/guards/index.js";
import { mcpSessionHandler } from "../support/mcp-session-http.js";
import { closeServer, listen } from "./mcp-fixtures.js";
import { type Harness, envSecrets, principal, startHarness } from "./mcp-harness.js";

const KEY = ["AKIA", "Z7QW3XK9PL2MN4TR"].join("");
const EMAIL = "jane.doe@example.com";
/** 300 bytes of base64: one unbroken run, as binary contents are. */
const BLOB = Buffer.from(Array.from({ length: 225 }, (_, i) => i)).toString("base64");

/** What the upstream saw come back from sampling. */
const samplingAnswers: string[] = [];

function buildUpstream(): McpServer {
  const server = new McpServer({ name: "docs", version: "1.0.0" });
  server.registerPrompt("contact", { description: "Who to write to" }, async () => ({
    messages: [{ role: "user", content: { type: "text", text: `Write to ${EMAIL} about the outage.` } }],
  }));
  server.registerResource("notes", "notes://ops", { mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, text: `deploy with aws_access_key_id = ${KEY}` }],
  }));
  server.registerResource("logo", "files://logo", { mimeType: "image/png" }, async (uri) => ({
    contents: [{ uri: uri.href, blob: BLOB, mimeType: "image/png" }],
  }));
  server.registerTool("summarize", { description: "Asks the client's model", inputSchema: {} }, async () => {
    try {
      const answer = await server.server.createMessage({
        messages: [{ role: "user", content: { type: "text", text: `Summarize the ticket from ${EMAIL}.` } }],
        maxTokens: 100,
      });
      const text = answer.content.type === "text" ? answer.content.text : "";
      samplingAnswers.push(text);
      return { content: [{ type: "text", text: `summary: ${text}` }] };
    } catch (error) {
      samplingAnswers.push(`error: ${(error as Error).message}`);
      return { content: [{ type: "text", text: "sampling refused" }], isError: true };
    }
  });
  return server;
}

let harness: Harness;
let closeUpstream: () => Promise<void>;

beforeAll(async () => {
  const sessions = mcpSessionHandler(buildUpstream);
  const http = createServer((req, res) => void sessions.handle(req, res).catch(() => res.writeHead(500).end()));
  const url = `${await listen(http)}/mcp`;
  closeUpstream = async () => {
    await sessions.closeAll();
    await closeServer(http);
  };
  const bundle = RuntimeBundleSchema.parse({
    apiVersion: "tollgate.dev/v1alpha1",
    kind: "GatewayBundle",
    metadata: { environment: "dev", stack: "test", gateway: "gateway" },
    server: { publicUrl: "http://127.0.0.1:1" },
    auth: { issuer: "http://127.0.0.1:2", audiences: ["http://127.0.0.1:1"] },
    protectedResource: { resource: "http://127.0.0.1:1/mcp", authorizationServers: ["http://127.0.0.1:2"] },
    mcp: {
      policy: "strict",
      upstreams: [{ id: "docs", transport: { type: "streamable-http", url } }],
      grants: [{ scope: "docs:read", upstream: "docs", tools: ["summarize"] }],
    },
    guardPolicies: [{ id: "strict", pii: { mode: "mask" }, credentialLeak: { mode: "block" } }],
  });
  const toolGuard = createToolCallGuard({ bundle, digest: "sha256:test", secrets: envSecrets });
  harness = await startHarness(bundle, { reader: principal("alice", ["docs:read"]) }, undefined, { toolGuard });
});

afterAll(async () => {
  await harness?.close();
  await closeUpstream?.();
});

async function connect(answer?: (request: CreateMessageRequest) => string) {
  const transport = new StreamableHTTPClientTransport(new URL(harness.url), {
    requestInit: { headers: { authorization: "Bearer reader" } },
  });
  const client = new Client({ name: "t", version: "1" }, answer ? { capabilities: { sampling: {} } } : {});
  if (answer)
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
      role: "assistant",
      model: "local",
      content: { type: "text", text: answer(request) },
    }));
  await client.connect(transport);
  return client;
}

describe("guards on prompts, resources and sampling", () => {
  it("a prompt's messages reach the client with PII masked, and the redaction is audited", async () => {
    const client = await connect();
    const prompt = await client.getPrompt({ name: "docs__contact" });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(text).not.toContain(EMAIL);
    expect(text).toContain("about the outage");
    expect(harness.events).toContainEqual(
      expect.objectContaining({ decision: "redact", tool: "docs__contact", reason: "prompt redacted" }),
    );
    await client.close();
  });

  it("a resource holding a credential is withheld, and the key appears in no answer or audit event", async () => {
    const client = await connect();
    const read = client.readResource({ uri: namespacedUri("docs", "notes://ops") });
    await expect(read).rejects.toThrow(/withheld by guard/);
    expect(harness.events).toContainEqual(expect.objectContaining({ decision: "block", reason: "resource refused" }));
    expect(JSON.stringify(harness.events)).not.toContain(KEY);
    await client.close();
  });

  it("binary resource contents pass untouched", async () => {
    const client = await connect();
    const read = await client.readResource({ uri: namespacedUri("docs", "files://logo") });
    expect(read.contents[0]).toMatchObject({ blob: BLOB, mimeType: "image/png" });
    await client.close();
  });

  it("sampling: the client's model sees the upstream's request masked; a credential in its answer never reaches the upstream", async () => {
    const asked: string[] = [];
    const client = await connect((request) => {
      const content = request.params.messages[0]!.content as { text: string };
      asked.push(content.text);
      return asked.length === 1 ? "The ticket is about a login failure." : `use ${KEY}`;
    });
    const first = await client.callTool({ name: "docs__summarize", arguments: {} });
    expect(asked[0]).not.toContain(EMAIL);
    expect(asked[0]).toContain("Summarize the ticket");
    expect(first.content).toEqual([{ type: "text", text: "summary: The ticket is about a login failure." }]);

    const second = await client.callTool({ name: "docs__summarize", arguments: {} });
    expect(second.isError).toBe(true);
    expect(samplingAnswers.at(-1)).toMatch(/^error: .*withheld by guard/);
    expect(samplingAnswers.join("\n")).not.toContain(KEY);
    expect(harness.events).toContainEqual(
      expect.objectContaining({ decision: "block", tool: "docs", reason: "sampling result refused" }),
    );
    await client.close();
  });
});
