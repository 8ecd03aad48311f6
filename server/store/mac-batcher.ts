// Coalesces lookups by one MAC made in the same turn of the event loop into one query: a DHCP
// flood of unknown clients asks for thousands of MACs a second, and one statement for a few
// hundred of them costs about what one for a single MAC does.
import type { System } from './types.ts';

/** Most MACs in one query. */
export const DEFAULT_MAX_BATCH = 500;

interface Waiter {
  resolve: (systems: System[]) => void;
  reject: (err: unknown) => void;
}

/** Batches single-MAC lookups; load(macs) returns each MAC's systems (absent: none). */
export class MacBatcher {
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;

  constructor(
    private readonly load: (macs: string[]) => Promise<Map<string, System[]>>,
    private readonly max = DEFAULT_MAX_BATCH,
  ) {}

  /** Returns the systems holding mac, looked up with whatever else is asked in this turn. */
  get(mac: string): Promise<System[]> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(mac);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(mac, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.pending.size > 0) {
      const batch = new Map<string, Waiter[]>();
      for (const [mac, waiters] of this.pending) {
        if (batch.size >= this.max) break;
        batch.set(mac, waiters);
      }
      for (const mac of batch.keys()) this.pending.delete(mac);
      this.load([...batch.keys()]).then(
        (found) => {
          for (const [mac, waiters] of batch) for (const w of waiters) w.resolve(found.get(mac) ?? []);
        },
        (err: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
        },
      );
    }
  }
}
