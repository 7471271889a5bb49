/**
 * Where budgets are counted: fixed windows per key. A key's window opens at its first hit and lasts the
 * policy's `windowSeconds`; `add` counts points into it and returns the total, `peek` reads it. The
 * limiter (./index.ts) decides with those numbers, the same way for both stores.
 *
 * - {@link MemoryWindows}: this process only, synchronous. Budget checks run on every request, so they
 *   allocate no promise, timer or result object (rate-limiter-flexible's memory limiter allocates all three).
 * - {@link RedisWindows}: shared by every replica; rate-limiter-flexible increments and expires the key
 *   atomically in Redis (one Lua script).
 */
import type { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import type { MaybePromise } from "../http/stage.js";

/** A key's current window. */
export interface WindowCount {
  /** Points counted in the window, this call's included. */
  readonly consumed: number;
  /** Milliseconds until the window ends. */
  readonly msBeforeReset: number;
}

export interface WindowStore {
  /** Counts `points` into `key`'s window (opening one if none is open). Rejects when the store is unreachable. */
  add(key: string, points: number): MaybePromise<WindowCount>;
  /** `key`'s open window, if any. */
  peek(key: string): MaybePromise<WindowCount | undefined>;
}

interface OpenWindow {
  consumed: number;
  readonly endsAt: number;
}

/** Fixed windows in this process's memory (the `memory` rate-limit store: one replica). */
export class MemoryWindows implements WindowStore {
  private readonly windows = new Map<string, OpenWindow>();

  /** `now`: the clock (tests pass a controllable one). */
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  add(key: string, points: number): WindowCount {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { consumed: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.consumed += points;
    return { consumed: window.consumed, msBeforeReset: window.endsAt - now };
  }

  peek(key: string): WindowCount | undefined {
    const now = this.now();
    const window = this.windows.get(key);
    return window && window.endsAt > now
      ? { consumed: window.consumed, msBeforeReset: window.endsAt - now }
      : undefined;
  }

  /** Forgets ended windows; returns how many are still open. The limiter calls it once per window length. */
  sweep(): number {
    const now = this.now();
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
    return this.windows.size;
  }
}

/** Fixed windows in Redis, shared by every replica (rate-limiter-flexible's atomic increment). */
export class RedisWindows implements WindowStore {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: Redis, windowSeconds: number, keyPrefix: string) {
    // `points` only matters to the library's own consume(), which is not used: the limiter compares the counts.
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      points: Number.MAX_SAFE_INTEGER,
      duration: windowSeconds,
      keyPrefix,
      rejectIfRedisNotReady: true,
    });
  }

  async add(key: string, points: number): Promise<WindowCount> {
    const counted = await this.limiter.penalty(key, points);
    return { consumed: counted.consumedPoints, msBeforeReset: counted.msBeforeNext };
  }

  async peek(key: string): Promise<WindowCount | undefined> {
    const counted = await this.limiter.get(key);
    return counted ? { consumed: counted.consumedPoints, msBeforeReset: counted.msBeforeNext } : undefined;
  }
}
