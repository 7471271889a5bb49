/**
 * How many stdio upstream processes one replica runs for all its MCP sessions together. Every session
 * spawns one child per stdio upstream, so without a bound the number of children grows with the number
 * of active users; past it, a new (or resumed) session is refused with 503 until sessions end.
 */
export class StdioBudget {
  private used = 0;

  constructor(readonly limit: number) {
    if (!(limit >= 0)) throw new RangeError(`stdio process limit must be >= 0, got ${limit}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** Takes `count` slots: a release function (idempotent), or undefined when they are not free. */
  acquire(count: number): (() => void) | undefined {
    if (count === 0) return () => {};
    if (this.used + count > this.limit) return undefined;
    this.used += count;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= count;
    };
  }
}
