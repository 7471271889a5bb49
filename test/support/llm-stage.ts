/**
 * The LLM stage on its own real HTTP server (no server/auth stage: the principal is fixed), for tests
 * that need to drive the stage's clock or configuration directly. End-to-end tests use the real gateway
 * (test/support/gateway.ts) instead.
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { BundleInput } from "../../policies/bundle/index.js";
import { RequestCancellation } from "../../runtime/http/cancellation.js";
import type { Principal, RequestContext } from "../../runtime/http/types.js";
import { createRateLimiter } from "../../runtime/limits/index.js";
import { type LlmGateway, createLlmGateway } from "../../runtime/llm/index.js";
import { type AuditEvent, createMemoryAuditLog } from "../../runtime/observability/audit.js";
import { llmTestConfig, testPrincipal } from "./llm-config.js";

export interface LlmStage {
  /** Base URL of the stage server, e.g. `http://127.0.0.1:1234`. */
  readonly url: string;
  readonly audit: AuditEvent[];
  readonly gateway: LlmGateway;
  /** Who the next requests come from. */
  actAs(principal: Principal): void;
  close(): Promise<void>;
}

/** One route, `/chat`, to one OpenAI-format provider at `baseUrl`, keyed by the secret `K`. */
export function chatRoute(baseUrl: string): NonNullable<BundleInput["llm"]> {
  return {
    routes: [
      {
        id: "chat",
        pathPrefix: "/chat",
        policy: "default",
        providers: [{ id: "p", kind: "openai", baseUrl, apiKey: { env: "K" } }],
      },
    ],
  };
}

export async function startLlmStage(
  edit: (bundle: BundleInput) => void,
  options: { secrets?: Record<string, string>; now?: () => number; subject?: string; principal?: Principal } = {},
): Promise<LlmStage> {
  const config = llmTestConfig(edit, options.secrets ?? {});
  const audit = createMemoryAuditLog();
  const limiter = await createRateLimiter(config);
  const gateway = createLlmGateway(config, { audit, limiter, ...(options.now ? { now: options.now } : {}) });
  let principal = options.principal ?? testPrincipal(options.subject ?? "alice");
  let id = 0;
  const server: Server = createServer((req, res) => {
    const handler = gateway.route(new URL(req.url ?? "/", "http://x").pathname);
    if (!handler) return void res.writeHead(404).end();
    const ctx: RequestContext = {
      requestId: `req-${++id}`,
      traceId: undefined,
      principal,
      config,
      audit,
      cancellation: new RequestCancellation(),
    };
    void handler(ctx, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    audit: audit.events,
    gateway,
    actAs(next) {
      principal = next;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
      await limiter.close();
    },
  };
}
