/**
 * The stateless (2026-07-28) path's own pieces: the era classifier on its edge cases, and the per-principal
 * upstream sets on one replica (bounded by the stdio process budget, shared by one principal's requests,
 * never by two principals), driven through the gateway's handler with the real server-memory upstream.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../runtime/http/types.js";
import { type EraHeaders, classifyEra } from "../../runtime/mcp/era.js";
import { gatewayBundle } from "./mcp-fixtures.js";
import { type Harness, principal, startHarness } from "./mcp-harness.js";

const VERSION = "2026-07-28";
const envelope = {
  "io.modelcontextprotocol/protocolVersion": VERSION,
  "io.modelcontextprotocol/clientCapabilities": {},
};
const headers = (h: Partial<EraHeaders> = {}): EraHeaders => ({
  protocolVersion: VERSION,
  method: undefined,
  name: undefined,
  ...h,
});
const listTools = (id = 1, meta: Record<string, unknown> = envelope) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/list",
  params: { _meta: meta },
});

describe("era classification", () => {
  it("a body without the envelope is 2025-era traffic, whatever else it carries", () => {
    const legacyHeaders = headers({ protocolVersion: "2025-11-25", method: "tools/list" });
    expect(classifyEra({ jsonrpc: "2.0", id: 1, method: "tools/list" }, legacyHeaders)).toEqual({ era: "legacy" });
    expect(classifyEra({ jsonrpc: "2.0", id: 1, result: {} }, headers())).toEqual({ era: "legacy" });
    expect(classifyEra([{ jsonrpc: "2.0", id: 1, method: "ping" }], headers({ protocolVersion: undefined }))).toEqual({
      era: "legacy",
    });
  });

  it("an initialize under a 2026 MCP-Protocol-Version header is a header/body disagreement", () => {
    const found = classifyEra(
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25" } },
      headers({ method: "initialize" }),
    );
    expect(found).toMatchObject({ era: "refused", refusal: { status: 400, code: -32020 } });
  });

  it("a 2026 header without the envelope is refused naming the missing key", () => {
    const found = classifyEra({ jsonrpc: "2.0", id: 2, method: "tools/list" }, headers({ method: "tools/list" }));
    expect(found).toMatchObject({ era: "refused", refusal: { status: 400, code: -32602, id: 2 } });
    expect(JSON.stringify(found)).toContain("io.modelcontextprotocol/protocolVersion");
  });

  it("an envelope naming another revision gets the unsupported-version error listing 2026-07-28", () => {
    const found = classifyEra(
      listTools(3, { ...envelope, "io.modelcontextprotocol/protocolVersion": "2027-01-01" }),
      headers({ protocolVersion: "2027-01-01", method: "tools/list" }),
    );
    expect(found).toMatchObject({
      era: "refused",
      refusal: { status: 400, code: -32022, data: { supported: [VERSION], requested: "2027-01-01" } },
    });
  });

  it("an envelope without client capabilities is an invalid envelope", () => {
    const found = classifyEra(
      listTools(4, { "io.modelcontextprotocol/protocolVersion": VERSION }),
      headers({ method: "tools/list" }),
    );
    expect(found).toMatchObject({ era: "refused", refusal: { status: 400, code: -32602 } });
  });

  it("a header naming another version than the envelope is a disagreement", () => {
    const found = classifyEra(listTools(5), headers({ protocolVersion: "2025-11-25", method: "tools/list" }));
    expect(found).toMatchObject({ era: "refused", refusal: { status: 400, code: -32020 } });
  });

  it("a broken base64 Mcp-Name is refused, a stateless notification is accepted", () => {
    const call = {
      jsonrpc: "2.0",
      id: 6,
      method: "tools/call",
      params: { name: "web__get_time", _meta: envelope },
    };
    expect(classifyEra(call, headers({ method: "tools/call", name: "=?base64?!!!?=" }))).toMatchObject({
      era: "refused",
      refusal: { code: -32020 },
    });
    expect(
      classifyEra(
        { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 6 } },
        headers({ method: "notifications/cancelled" }),
      ),
    ).toEqual({ era: "stateless-notification" });
  });
});

describe("upstream sets of stateless callers on one replica", () => {
  const PRINCIPALS: Record<string, Principal> = {
    alice: principal("alice", ["mcp:read"]),
    "alice-again": principal("alice", ["mcp:read"]),
    "alice-other-agent": principal("alice", ["mcp:read"], "other-agent"),
  };
  let dir: string;
  let harness: Harness;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tollgate-stateless-sets-"));
    // server-memory over stdio, and an HTTP upstream nobody listens on (degraded; it spawns nothing).
    const bundle = gatewayBundle({ webUrl: "http://127.0.0.1:1/mcp", memoryFile: join(dir, "memory.jsonl") });
    harness = await startHarness(bundle, PRINCIPALS, undefined, { maxStdioProcesses: 1 });
  });

  afterAll(async () => {
    await harness?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (bearer: string, body: unknown = listTools(), method = "tools/list") =>
    fetch(harness.url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${bearer}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
        "mcp-method": method,
      },
      body: JSON.stringify(body),
    });

  it("one principal's requests share one set; another client of the same user needs its own and past the stdio bound gets 503", async () => {
    const first = await post("alice");
    expect(first.status).toBe(200);
    expect(first.headers.get("mcp-session-id")).toBeNull();
    expect(harness.gateway.stdioProcesses()).toEqual({ inUse: 1, limit: 1 });
    expect(harness.gateway.statelessSetCount()).toBe(1);

    const again = await post("alice-again");
    expect(again.status).toBe(200);
    expect(harness.gateway.stdioProcesses()).toEqual({ inUse: 1, limit: 1 });

    const other = await post("alice-other-agent");
    expect(other.status).toBe(503);
    expect(other.headers.get("retry-after")).toBe("5");
    expect(await other.json()).toMatchObject({ error: { code: -32000 } });
    expect(harness.gateway.sessionCount()).toBe(0);
    expect(harness.gateway.statelessSetCount()).toBe(1);
  });

  it("a 2025-era handshake or a subscription sent as a stateless request is Method not found", async () => {
    for (const method of ["initialize", "resources/subscribe"]) {
      const body = { jsonrpc: "2.0", id: 9, method, params: { uri: "memory://x", _meta: envelope } };
      const response = await post("alice", body, method);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: 9, error: { code: -32601 } });
    }
  });
});
