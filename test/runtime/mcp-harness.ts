/**
 * A minimal HTTP front for driving the MCP gateway's handler directly in handler-level tests: it maps
 * `Authorization: Bearer <name>` to a fixed principal. Not authentication — the end-to-end suite runs
 * the real server with real oidc-provider tokens; this harness isolates the gateway's own behaviour.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Bundle } from "../../policies/bundle/index.js";
import { RequestCancellation } from "../../runtime/http/cancellation.js";
import type { ActiveConfig, Principal, RateLimiter, SecretReader } from "../../runtime/http/types.js";
import { passThroughToolGuard } from "../../runtime/http/types.js";
import { type McpGateway, type McpGatewayDeps, createMcpGateway } from "../../runtime/mcp/index.js";
import { type AuditEvent, createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { closeServer, listen } from "./mcp-fixtures.js";

export const envSecrets: SecretReader = {
  read: (ref) => ("env" in ref ? (process.env[ref.env] ?? "") : readFileSync(ref.file, "utf8").trim()),
};

export const admitAll: RateLimiter = {
  admitRequest: async () => ({ allowed: true, headers: {} }),
  recordTokens: async () => {},
  close: async () => {},
};

export function principal(subject: string, scopes: string[], clientId = "agent"): Principal {
  return {
    issuer: "http://127.0.0.1:2",
    subject,
    clientId,
    scopes,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    token: `token-of-${subject}-${randomUUID()}`,
  };
}

export interface Harness {
  readonly url: string;
  readonly gateway: McpGateway;
  readonly events: AuditEvent[];
  close(): Promise<void>;
}

export async function startHarness(
  bundle: Bundle,
  principals: Record<string, Principal>,
  limiter: RateLimiter = admitAll,
  extraDeps: Partial<
    Pick<
      McpGatewayDeps,
      "maxSessionsPerPrincipal" | "upstreamStartWaitMs" | "sessionRecords" | "maxStdioProcesses" | "toolGuard"
    >
  > = {},
): Promise<Harness> {
  const config: ActiveConfig = { bundle, digest: "sha256:test", secrets: envSecrets };
  const audit = createMemoryAuditLog();
  const gateway = createMcpGateway(config, {
    audit,
    limiter,
    toolGuard: passThroughToolGuard,
    upstreamMinBackoffMs: 50,
    ...extraDeps,
  });
  const server = createServer((req, res) => {
    const name = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const who = name ? principals[name] : undefined;
    if (!who) {
      res.writeHead(401).end();
      return;
    }
    const cancellation = new RequestCancellation();
    res.on("close", () => cancellation.cancel(new Error("the client went away")));
    void gateway
      .handle({ requestId: randomUUID(), traceId: undefined, principal: who, config, audit, cancellation }, req, res)
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
      });
  });
  const url = `${await listen(server)}/mcp`;
  return {
    url,
    gateway,
    events: audit.events,
    close: async () => {
      await gateway.close();
      await closeServer(server);
    },
  };
}
