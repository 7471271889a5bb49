/**
 * Spend budget windows: calendar days and months in UTC, or fixed windows of a number of seconds aligned
 * to the Unix epoch. Every replica computes the same window from the clock alone, so a window's id can be
 * part of the store key and no window has to be opened or reset.
 */

export type SpendWindow = "day" | "month" | { readonly seconds: number };

/** The window `now` falls in. */
export interface WindowSpan {
  /** Names the window in store keys: `d2026-12-02`, `m2026-12`, `s3600-1795000000`. */
  readonly id: string;
  readonly startsAt: number;
  /** Milliseconds since the epoch when the next window starts. */
  readonly endsAt: number;
}

export function windowAt(window: SpendWindow, now: number): WindowSpan {
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  if (window === "day") {
    const startsAt = Date.UTC(year, month, date.getUTCDate());
    return { id: `d${new Date(startsAt).toISOString().slice(0, 10)}`, startsAt, endsAt: startsAt + 86_400_000 };
  }
  if (window === "month") {
    const startsAt = Date.UTC(year, month, 1);
    return { id: `m${new Date(startsAt).toISOString().slice(0, 7)}`, startsAt, endsAt: Date.UTC(year, month + 1, 1) };
  }
  const length = window.seconds * 1000;
  const startsAt = Math.floor(now / length) * length;
  return { id: `s${window.seconds}-${startsAt / 1000}`, startsAt, endsAt: startsAt + length };
}

/** How a window reads in messages and docs: `day (UTC)`, `month (UTC)`, `3600 s`. */
export function describeWindow(window: SpendWindow): string {
  return typeof window === "string" ? `${window} (UTC)` : `${window.seconds} s`;
}
