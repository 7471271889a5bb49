/**
 * Provider health for failover: which responses count as failures (per the route's `failover.on`), and
 * how long a failing provider is skipped (`evictSeconds`, or a longer `Retry-After`). When every
 * provider is evicted, they are tried anyway in order: a degraded answer beats a certain error.
 */
import type { LlmRoute } from "../../policies/bundle/index.js";

interface HasId {
  readonly id: string;
}

export type FailoverTrigger = LlmRoute["failover"]["on"][number];

/** The trigger a status code corresponds to, if any. */
export function triggerForStatus(status: number): FailoverTrigger | undefined {
  if (status === 429) return "429";
  if (status === 529) return "529";
  if (status >= 500 && status <= 599) return "5xx";
  return undefined;
}

export class ProviderHealth {
  private readonly evictedUntil = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** Providers in the order to try: healthy ones first (in route order), then evicted ones. */
  order<P extends HasId>(providers: readonly P[]): P[] {
    const now = this.now();
    const healthy = providers.filter((p) => (this.evictedUntil.get(p.id) ?? 0) <= now);
    if (healthy.length === providers.length) return [...providers];
    const evicted = providers.filter((p) => !healthy.includes(p));
    return [...healthy, ...evicted];
  }

  isEvicted(providerId: string): boolean {
    return (this.evictedUntil.get(providerId) ?? 0) > this.now();
  }

  evict(providerId: string, evictSeconds: number, retryAfterSeconds: number | undefined): number {
    const seconds = Math.max(evictSeconds, retryAfterSeconds ?? 0);
    this.evictedUntil.set(providerId, this.now() + seconds * 1000);
    return seconds;
  }

  /** When each provider failover skips now comes back (providers whose eviction has run out are left out). */
  coolingDown(): Map<string, Date> {
    const now = this.now();
    const out = new Map<string, Date>();
    for (const [id, until] of this.evictedUntil) if (until > now) out.set(id, new Date(until));
    return out;
  }

  /** Seconds until the first evicted provider comes back (for Retry-After when all failed). */
  secondsUntilAnyRecovers(providers: readonly HasId[]): number {
    const now = this.now();
    const times = providers.map((p) => (this.evictedUntil.get(p.id) ?? now) - now);
    return Math.max(1, Math.ceil(Math.min(...times) / 1000));
  }
}
