/**
 * The `Authorization` header from the attacker's side, over raw sockets (fetch would merge duplicates
 * into one comma-joined value): a request with two of them is refused whichever comes first, since a
 * proxy in front of the gateway and the gateway itself might each read a different one.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticate } from "../../runtime/auth/authenticate.js";
import { sendInvalidToken } from "../../runtime/auth/challenge.js";
import type { TokenVerifier } from "../../runtime/auth/verifier.js";
import { type TestPlatform, initializeRequest, startTestPlatform } from "../support/gateway.js";

interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * Sends a POST with exactly the given header lines; resolves once the response head and its
 * `content-length` body have arrived (a streamed body is not waited for), then closes the socket.
 */
function rawPost(url: string, headerLines: readonly string[], body: string): Promise<RawResponse> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const split = received.indexOf("\r\n\r\n");
      if (split < 0) return;
      const head = received.subarray(0, split).toString("utf8");
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
      const rest = received.subarray(split + 4);
      if (length !== undefined && rest.length < Number(length)) return;
      socket.destroy();
      resolve({ status: Number(head.split(" ")[1]), head, body: rest.toString("utf8") });
    });
    socket.write(
      [
        `POST ${pathname} HTTP/1.1`,
        `Host: ${hostname}:${port}`,
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...headerLines,
        "",
        body,
      ].join("\r\n"),
    );
  });
}

describe("two Authorization headers at the gateway", () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await startTestPlatform();
  });
  afterAll(async () => platform?.close());

  it("serves one valid header (the control case)", async () => {
    const token = await platform.token("reader");
    const response = await rawPost(platform.mcpUrl, [`Authorization: Bearer ${token}`], initializeRequest());
    expect(response.status).toBe(200);
  });

  it.each([
    { order: "valid first", valid: 0 },
    { order: "valid second", valid: 1 },
  ])("refuses a request with a valid and a forged token ($order)", async ({ valid }) => {
    const token = await platform.token("admin");
    const lines = [`Authorization: Bearer ${token}`, "Authorization: Bearer forged.token.value"];
    if (valid === 1) lines.reverse();
    const response = await rawPost(platform.mcpUrl, lines, initializeRequest());
    expect(response.status).toBe(401);
    expect(response.head.toLowerCase()).toContain('www-authenticate: bearer error="invalid_request"');
    expect(JSON.parse(response.body)).toEqual({
      error: "invalid_request",
      error_description: "more than one authorization header",
    });
  });

  it("refuses the same valid token sent twice", async () => {
    const token = await platform.token("reader");
    const response = await rawPost(
      platform.mcpUrl,
      [`Authorization: Bearer ${token}`, `authorization: Bearer ${token}`],
      initializeRequest(),
    );
    expect(response.status).toBe(401);
  });
});

describe("the authentication stage on a real request", () => {
  let url: string;
  let verified = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const verifier = {
      verify: () => {
        verified++;
        return { ok: false, reason: "unused" } as const;
      },
    } as unknown as TokenVerifier;
    const auth = await authenticate(req, verifier);
    if (auth.outcome === "invalid")
      sendInvalidToken(res, `${url}/.well-known/oauth-protected-resource`, auth.reason, auth.error);
    else res.writeHead(204).end();
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("answers two Authorization headers with 401 invalid_request without verifying either", async () => {
    const response = await rawPost(url, ["Authorization: Bearer a.b.c", "Authorization: Bearer d.e.f"], "{}");
    expect(response.status).toBe(401);
    expect(response.head.toLowerCase()).toContain('www-authenticate: bearer error="invalid_request"');
    expect(JSON.parse(response.body)).toEqual({
      error: "invalid_request",
      error_description: "more than one authorization header",
    });
    expect(verified).toBe(0);
  });
});
