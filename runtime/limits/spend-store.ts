/**
 * Where spend is counted: integer micro-dollars per key, each key one budget's subject in one window (the
 * window is part of the key, so a key is never reset, only left to expire after its window).
 *
 * - {@link MemorySpendStore}: one replica. The server keeps one for the life of the process and hands it to
 *   each bundle it loads, so a reload does not forget the month's spend.
 * - {@link RedisSpendStore}: shared by every replica: `INCRBY` and `PEXPIREAT` in one transaction per answer,
 *   `MGET` for the checks.
 */
import { Redis } from "ioredis";
import type { MaybePromise } from "../http/stage.js";
import { waitForReady } from "./redis-ready.js";

/** One amount to count: `micro` micro-dollars into `key`, whose window ends at `endsAt` (ms since the epoch). */
export interface SpendEntry {
  readonly key: string;
  readonly micro: number;
  readonly endsAt: number;
}

export interface SpendStore {
  /** What each key holds (0 for a key never counted). Rejects when the store is unreachable. */
  read(keys: readonly string[]): MaybePromise<number[]>;
  /** Adds every entry. Rejects when the store is unreachable. */
  add(entries: readonly SpendEntry[]): MaybePromise<void>;
  close(): Promise<void>;
}

/** Kept a minute past its window, so a replica whose clock runs a little behind still reads the same count. */
const EXPIRY_SLACK_MS = 60_000;

interface Counted {
  micro: number;
  readonly endsAt: number;
}

/** Spend in this process's memory: synchronous, ended windows swept hourly. */
export class MemorySpendStore implements SpendStore {
  private readonly counts = new Map<string, Counted>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 3_600_000);
    this.sweeper.unref();
  }

  read(keys: readonly string[]): number[] {
    return keys.map((key) => this.counts.get(key)?.micro ?? 0);
  }

  add(entries: readonly SpendEntry[]): void {
    for (const { key, micro, endsAt } of entries) {
      const counted = this.counts.get(key);
      if (counted) counted.micro += micro;
      else this.counts.set(key, { micro, endsAt: endsAt + EXPIRY_SLACK_MS });
    }
  }

  /** Forgets ended windows; returns how many keys are left. */
  sweep(): number {
    const now = this.now();
    for (const [key, counted] of this.counts) if (counted.endsAt <= now) this.counts.delete(key);
    return this.counts.size;
  }

  /** The process's store outlives each bundle: closing a runtime leaves it. {@link dispose} ends it. */
  async close(): Promise<void> {}

  dispose(): void {
    clearInterval(this.sweeper);
  }
}

/** Spend in Redis, shared by every replica. */
export class RedisSpendStore implements SpendStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly keyPrefix: string,
  ) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    // Connection errors arrive as events; unheard they would crash the process. A read or add still rejects.
    this.redis.on("error", () => {});
  }

  /** Resolves when connected, when the first attempt failed, or after `timeoutMs`. */
  ready(timeoutMs = 2000): Promise<void> {
    return waitForReady(this.redis, timeoutMs);
  }

  async read(keys: readonly string[]): Promise<number[]> {
    const values = await this.redis.mget(keys.map((key) => this.keyPrefix + key));
    return values.map((value) => (value === null ? 0 : Number(value)));
  }

  async add(entries: readonly SpendEntry[]): Promise<void> {
    const transaction = this.redis.multi();
    for (const { key, micro, endsAt } of entries) {
      transaction.incrby(this.keyPrefix + key, micro);
      transaction.pexpireat(this.keyPrefix + key, endsAt + EXPIRY_SLACK_MS);
    }
    const results = await transaction.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error("spend transaction aborted");
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
