/**
 * Prompts and resources through the gateway: namespaced, visible and readable only with a scope granted on
 * their upstream, and checked before the transport like tool calls.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeBundleSchema } from "../../policies/bundle/index.js";
import { namespacedUri } from "../../policies/tools/index.js";
import { type FixtureServer, startConformanceFixture } from "../conformance/fixture-server.js";
import { type Harness, principal, startHarness } from "./mcp-harness.js";

let fixture: FixtureServer;
let harness: Harness;

beforeAll(async () => {
  fixture = await startConformanceFixture();
  const bundle = RuntimeBundleSchema.parse({
    apiVersion: "tollgate.dev/v1alpha1",
    kind: "GatewayBundle",
    metadata: { environment: "dev", stack: "test", gateway: "gateway" },
    server: { publicUrl: "http://127.0.0.1:1" },
    auth: { issuer: "http://127.0.0.1:2", audiences: ["http://127.0.0.1:1"] },
    protectedResource: { resource: "http://127.0.0.1:1/mcp", authorizationServers: ["http://127.0.0.1:2"] },
    mcp: {
      policy: "default",
      upstreams: [{ id: "docs", transport: { type: "streamable-http", url: fixture.url } }],
      grants: [{ scope: "docs:read", upstream: "docs", tools: ["test_simple_text"] }],
      alwaysBlocked: [{ upstream: "*", tools: ["test_prompt_with_image"], reason: "no images" }],
    },
    guardPolicies: [{ id: "default" }],
  });
  harness = await startHarness(bundle, {
    reader: principal("alice", ["docs:read"]),
    stranger: principal("bob", ["mcp:read"]),
  });
});

afterAll(async () => {
  await harness?.close();
  await fixture?.close();
});

async function connect(bearer: string) {
  const transport = new StreamableHTTPClientTransport(new URL(harness.url), {
    requestInit: { headers: { authorization: `Bearer ${bearer}` } },
  });
  const client = new Client({ name: "t", version: "1" });
  await client.connect(transport);
  return { client, transport };
}

describe("prompts and resources", () => {
  it("a caller with a scope granted on the upstream sees its prompts and resources, namespaced", async () => {
    const { client } = await connect("reader");
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual([
      "docs__test_prompt_with_arguments",
      "docs__test_prompt_with_embedded_resource",
      "docs__test_simple_prompt",
    ]);
    const resources = (await client.listResources()).resources.map((r) => r.uri);
    expect(resources).toContain(namespacedUri("docs", "test://static-text"));
    const read = await client.readResource({ uri: namespacedUri("docs", "test://static-text") });
    expect(read.contents[0]).toMatchObject({
      uri: namespacedUri("docs", "test://static-text"),
      text: "This is the content of the static text resource.",
    });
    expect(harness.events).toContainEqual(
      expect.objectContaining({
        decision: "allow",
        method: "resources/read",
        upstream: "docs",
        rule: "scope: docs:read",
      }),
    );
    await client.close();
  });

  it("a prompt matching an always-blocked rule is hidden and refused", async () => {
    const { client } = await connect("reader");
    await expect(client.getPrompt({ name: "docs__test_prompt_with_image" })).rejects.toThrow(
      /always-blocked: no images/,
    );
    await client.close();
  });

  it("a caller without a scope granted on the upstream sees nothing and gets 403 insufficient_scope on a read", async () => {
    const { client, transport } = await connect("stranger");
    expect((await client.listPrompts()).prompts).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
    const response = await fetch(harness.url, {
      method: "POST",
      headers: {
        authorization: "Bearer stranger",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": transport.sessionId ?? "",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 4,
        method: "resources/read",
        params: { uri: namespacedUri("docs", "test://static-text") },
      }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toContain('scope="docs:read"');
    await client.close();
  });

  it("a raw upstream URI is not readable through the gateway", async () => {
    const { client } = await connect("reader");
    await expect(client.readResource({ uri: "test://static-text" })).rejects.toThrow(/Unknown resource/);
    await client.close();
  });
});
