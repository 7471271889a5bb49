/**
 * Request ids and trace context, piece by piece: which client `x-request-id` the gateway takes (from the
 * attacker's side: log forging, header smuggling, repeated and oversized headers), which `traceparent` it
 * continues, and what the MCP upstream fetch sends a real HTTP server inside and outside a request's scope.
 */
import { createServer, type IncomingHttpHeaders, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWellFormedRequestId, requestIdOf } from "../../runtime/http/request-id.js";
import { upstreamFetch } from "../../runtime/mcp/upstream-fetch.js";
import { withUpstreamPropagation } from "../../runtime/observability/context.js";
import { parseTraceparent, untracedTraceContext } from "../../runtime/observability/trace-context.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const NEW_TRACE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/;

describe("which x-request-id the gateway takes", () => {
  it.each([
    ["a UUID", "f47ac10b-58cc-4372-a567-0e02b2c3d479"],
    ["a ULID", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
    ["an id with dots, colons and underscores", "web-1:req_42.7"],
    ["128 characters", "a".repeat(128)],
  ])("keeps %s", (_name, id) => {
    expect(requestIdOf({ "x-request-id": id })).toBe(id);
  });

  it.each([
    ["an empty value", ""],
    ["129 characters", "a".repeat(129)],
    ["a forged log line", 'x","decision":"allow'],
    ["spaces", "req 42"],
    ["CR/LF", "req\r\nx-api-key: stolen"],
    ["non-ASCII", "réq-42"],
    ["two ids joined by Node", "id-one, id-two"],
  ])("replaces %s with a new UUID", (_name, id) => {
    const taken = requestIdOf({ "x-request-id": id });
    expect(taken).not.toBe(id);
    expect(taken).toMatch(UUID);
  });

  it("makes a new UUID when there is none, a different one each time", () => {
    const a = requestIdOf({});
    const b = requestIdOf({});
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });

  it("refuses an id sent in two headers, as they arrive at a real server", async () => {
    let seen: string | undefined;
    const server = createServer((req, res) => {
      seen = requestIdOf(req.headers);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      // Raw header pairs: two x-request-id headers on the wire, as an attacker would send them.
      const req = httpRequest({
        port,
        host: "127.0.0.1",
        headers: ["host", `127.0.0.1:${port}`, "x-request-id", "one", "x-request-id", "two"],
      });
      req.on("response", (res) => res.resume().on("end", resolve));
      req.on("error", reject);
      req.end();
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(seen).toMatch(UUID);
    expect(isWellFormedRequestId("one")).toBe(true);
  });
});

describe("which traceparent the gateway continues", () => {
  it("takes a valid version-00 traceparent as it came", () => {
    expect(parseTraceparent(TRACEPARENT)).toBe(TRACEPARENT);
  });

  it("reads the known fields of a later version and passes it on as version 00", () => {
    expect(parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future")).toBe(TRACEPARENT);
  });

  it.each([
    ["upper-case hex", TRACEPARENT.toUpperCase()],
    ["an all-zero trace id", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`],
    ["an all-zero parent id", `00-4bf92f3577b34da6a3ce929d0e0e4736-${"0".repeat(16)}-01`],
    ["version ff", `ff${TRACEPARENT.slice(2)}`],
    ["version 00 with extra fields", `${TRACEPARENT}-extra`],
    ["a short trace id", "00-4bf92f3577b34da6-00f067aa0ba902b7-01"],
    ["two traceparents joined by Node", `${TRACEPARENT}, ${TRACEPARENT}`],
  ])("refuses %s", (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it("forwards the client's tracestate only with a valid traceparent", () => {
    expect(untracedTraceContext({ traceparent: TRACEPARENT, tracestate: "vendor=abc" })).toEqual({
      traceparent: TRACEPARENT,
      tracestate: "vendor=abc",
    });
    const started = untracedTraceContext({ traceparent: "garbage", tracestate: "vendor=abc" });
    expect(started.traceparent).toMatch(NEW_TRACE);
    expect(started.tracestate).toBeUndefined();
  });

  it("starts an unsampled trace when the client sent none", () => {
    const a = untracedTraceContext({}).traceparent;
    const b = untracedTraceContext({}).traceparent;
    expect(a).toMatch(NEW_TRACE);
    expect(a.slice(3, 35)).not.toBe(b.slice(3, 35));
  });

  it("never repeats a trace or parent id, across refills of its random bytes", () => {
    const started = Array.from({ length: 600 }, () => untracedTraceContext({}).traceparent);
    for (const traceparent of started) expect(traceparent).toMatch(NEW_TRACE);
    expect(new Set(started.map((t) => t.slice(3, 35))).size).toBe(started.length);
    expect(new Set(started.map((t) => t.slice(36, 52))).size).toBe(started.length);
  });
});

describe("the MCP upstream fetch", () => {
  let server: Server;
  let url: string;
  const dispatcher = new Agent();
  const fetch = upstreamFetch(dispatcher);

  beforeAll(async () => {
    // Answers with the headers it received: concurrent requests each read their own.
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(req.headers));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });

  afterAll(async () => {
    await dispatcher.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (headers: Record<string, string> = {}) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" }).then(
      async (r) => (await r.json()) as IncomingHttpHeaders,
    );

  it("sends the request's id and the client's trace context on every upstream request of the request", async () => {
    const incoming = { traceparent: TRACEPARENT, tracestate: "vendor=abc" };
    const [first, second] = await withUpstreamPropagation("req-7", incoming, async () => [await post(), await post()]);
    for (const headers of [first, second]) {
      expect(headers?.["x-request-id"]).toBe("req-7");
      expect(headers?.traceparent).toBe(TRACEPARENT);
      expect(headers?.tracestate).toBe("vendor=abc");
    }
  });

  it("starts one trace per client request, shared by its upstream requests, when the client sent none", async () => {
    const [first, second] = await withUpstreamPropagation("req-8", {}, async () => [await post(), await post()]);
    expect(first?.traceparent).toMatch(NEW_TRACE);
    expect(second?.traceparent).toBe(first?.traceparent);
  });

  it("keeps the traceparent a traced request's upstream span already set", async () => {
    const own = "00-11111111111111111111111111111111-2222222222222222-01";
    const headers = await withUpstreamPropagation("req-9", { traceparent: TRACEPARENT }, () =>
      post({ traceparent: own }),
    );
    expect(headers["x-request-id"]).toBe("req-9");
    expect(headers.traceparent).toBe(own);
  });

  it("keeps concurrent requests' ids apart", async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `concurrent-${i}`);
    const seen = await Promise.all(ids.map((id) => withUpstreamPropagation(id, {}, () => post())));
    expect(seen.map((h) => h["x-request-id"])).toEqual(ids);
  });

  it("adds nothing outside a request (an upstream's background reconnect)", async () => {
    const headers = await post();
    expect(headers["x-request-id"]).toBeUndefined();
    expect(headers.traceparent).toBeUndefined();
  });
});
