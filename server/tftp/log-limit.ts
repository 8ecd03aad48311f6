// Rate-limited log lines: what a flood of bad packets or refused requests would repeat thousands
// of times a second is logged once per interval per kind, with a count of the lines held back.
import type { Logger } from '../log.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** Logs at most one line per kind per interval; the next one says how many were suppressed. */
export class LogLimiter {
  private readonly seen = new Map<string, { at: number; held: number }>();

  /**
   * @param log where lines go
   * @param intervalMs shortest time between two lines of one kind
   * @param now the clock
   */
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Logs the line unless one of the same kind went out within the interval; returns whether it did. */
  line(level: Level, kind: string, fields: Record<string, unknown>, message: string): boolean {
    const t = this.now();
    const s = this.seen.get(kind);
    if (s && t - s.at < this.intervalMs) {
      s.held++;
      return false;
    }
    const held = s?.held ?? 0;
    this.seen.set(kind, { at: t, held: 0 });
    this.log[level](held > 0 ? { ...fields, suppressed: held } : fields, held > 0 ? `${message} (${held} more like it in the last ${Math.round(this.intervalMs / 1000)} s)` : message);
    return true;
  }
}
