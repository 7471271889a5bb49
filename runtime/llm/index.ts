/**
 * LLM routes (runtime part 2). STUB until the LLM proxy lands: no route matches.
 * Contract with the server: after authentication the server asks `route(pathname)`; a handler means the
 * path belongs to an LLM route, `undefined` means it does not.
 */
import type { ActiveConfig, HttpHandler, RateLimiter } from "../http/types";
import type { AuditLog } from "../observability/audit";

export interface LlmGateway {
  route(pathname: string): HttpHandler | undefined;
  close(): Promise<void>;
}

export interface LlmGatewayDeps {
  readonly audit: AuditLog;
  readonly limiter: RateLimiter;
}

export function createLlmGateway(_config: ActiveConfig, _deps: LlmGatewayDeps): LlmGateway {
  return { route: () => undefined, close: async () => {} };
}
