// One log line per interval for events a stranger can repeat at will (malformed packets, a full
// pool): the first is logged at once, the rest are counted and reported with the next line.

export const DEFAULT_LOG_INTERVAL_MS = 60_000;

/** Decides when a repeated event is logged; counts the ones it holds back. */
export class LogThrottle {
  private last = -Infinity;
  private held = 0;

  constructor(
    private readonly intervalMs: number = DEFAULT_LOG_INTERVAL_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Returns how many events were held back since the last line when this one should be logged, else null (counted). */
  hit(): number | null {
    const now = this.clock();
    if (now - this.last < this.intervalMs) {
      this.held++;
      return null;
    }
    this.last = now;
    const held = this.held;
    this.held = 0;
    return held;
  }
}
