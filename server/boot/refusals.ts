// Counts what kickstand refused or capped, for metrics, and logs it without letting the log become
// the next thing a flood can grow: one line per reason per interval, saying how many were not logged.
import type { Logger } from '../log.ts';

/** Why a request was refused (trust) or a record was not kept (limit). */
export type RefusalKind = 'trust' | 'limit';

/** How often one reason may be logged. */
export const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 60_000;

interface Reason {
  kind: RefusalKind;
  count: number;
  lastLoggedAt: number;
  unlogged: number;
}

/** Refusal and limit counters with rate-limited warnings. */
export class Refusals {
  private readonly reasons = new Map<string, Reason>();
  private readonly intervalMs: number;
  private readonly clock: () => number;

  constructor(private readonly o: { log: Logger; intervalMs?: number; clock?: () => number }) {
    this.intervalMs = o.intervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS;
    this.clock = o.clock ?? Date.now;
  }

  /** Counts one refusal and logs it at warn unless this reason was logged within the interval. */
  note(kind: RefusalKind, reason: string, fields: Record<string, unknown>, message: string): void {
    let r = this.reasons.get(reason);
    if (!r) this.reasons.set(reason, (r = { kind, count: 0, lastLoggedAt: -Infinity, unlogged: 0 }));
    r.count++;
    const now = this.clock();
    if (now - r.lastLoggedAt < this.intervalMs) {
      r.unlogged++;
      return;
    }
    const more = r.unlogged > 0 ? ` (and ${r.unlogged} more since the last such line)` : '';
    this.o.log.warn({ ...fields, [kind === 'trust' ? 'refused' : 'limit']: reason, count: r.count }, `${message}${more}`);
    r.lastLoggedAt = now;
    r.unlogged = 0;
  }

  /** Returns the counts of one kind by reason (read by the metrics at scrape time). */
  counts(kind: RefusalKind): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [reason, r] of this.reasons) if (r.kind === kind) out[reason] = r.count;
    return out;
  }
}
