/**
 * Per-principal rate limits (runtime part 2). STUB until the limiter lands: admits everything.
 */
import type { ActiveConfig, RateLimiter } from "../http/types";

export async function createRateLimiter(_config: ActiveConfig): Promise<RateLimiter> {
  return {
    admitRequest: async () => ({ allowed: true, headers: {} }),
    recordTokens: async () => {},
    close: async () => {},
  };
}
