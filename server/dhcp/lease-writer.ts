// Batches lease writes: leases changed while one saveLeases call runs go into the next call, so
// thousands of clients per second cost a few store transactions, and each caller learns when its
// own lease is on disk (an ACK is sent only after that: a lease acknowledged survives a restart).
// A batch holds at most maxBatch leases and batches are written one per turn of the event loop:
// a synchronous store (SQLite) then blocks the loop for one bounded commit at a time, and the
// requests that arrived meanwhile (DISCOVERs whose OFFERs need no disk) are answered in between.
// When servers share the pool (one PostgreSQL), batches are claimed (LeaseStore.claimLeases) and
// each writer learns whether the store gave its address to another client.
import type { DhcpLease, LeaseStore } from './leases.ts';

/** Most leases in one saveLeases call: about 0.5 ms of SQLite commit on a small machine. */
export const DEFAULT_MAX_BATCH = 128;

export interface LeaseWriterOptions {
  /** Wait this long before writing a batch (0: the next turn of the event loop). */
  delayMs?: number;
  /** Most leases in one saveLeases call; more wait for the next turn of the loop. */
  maxBatch?: number;
  /** Write through LeaseStore.claimLeases, so the store refuses addresses other servers' clients hold (a shared pool). */
  claims?: boolean;
  clock?: () => number;
}

interface Batch {
  leases: Map<string, DhcpLease>;
  /** Resolves with the MACs whose lease the store refused (claimLeases). */
  done: Promise<Set<string>>;
  resolve: (refused: Set<string>) => void;
  reject: (err: unknown) => void;
}

/** Writes leases to a LeaseStore in bounded batches; write() resolves once that lease's state is saved. */
export class LeaseWriter {
  /** Batches not started yet, oldest first; only the last one takes new MACs. */
  private readonly queue: Batch[] = [];
  /** Which queued batch holds a MAC, so a newer state replaces the older one there. */
  private readonly queuedMac = new Map<string, Batch>();
  private inflight: Promise<void> | null = null;
  private scheduled = false;
  private readonly delayMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaseWriterOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 0;
    this.maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
  }

  /**
   * Queues a lease (the latest state per MAC wins); resolves when a store call holding its current
   * state has returned: true when written, false when the store refused it (another client holds the address).
   */
  write(lease: DhcpLease): Promise<boolean> {
    let batch = this.queuedMac.get(lease.mac);
    if (!batch) {
      batch = this.queue.at(-1);
      if (!batch || batch.leases.size >= this.maxBatch) {
        batch = newBatch();
        this.queue.push(batch);
      }
      this.queuedMac.set(lease.mac, batch);
    }
    batch.leases.set(lease.mac, lease);
    this.schedule();
    return batch.done.then((refused) => !refused.has(lease.mac));
  }

  /** Returns how many leases wait for a batch that has not started. */
  pending(): number {
    return this.queuedMac.size;
  }

  /** Resolves when everything queued so far has been written (or failed). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inflight) {
      const wait = this.queue.at(-1)?.done ?? this.inflight;
      await wait?.catch(() => undefined);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inflight) return;
    this.scheduled = true;
    if (this.delayMs > 0) setTimeout(() => this.run(), this.delayMs);
    else setImmediate(() => this.run());
  }

  /** Writes a batch: claims where the store decides who holds an address, else plain saves. Returns the refused MACs. */
  private async save(leases: DhcpLease[]): Promise<Set<string>> {
    if (!this.options.claims || !this.store.claimLeases) {
      await this.store.saveLeases(leases);
      return new Set();
    }
    const refused = new Set(await this.store.claimLeases(leases, (this.options.clock ?? Date.now)()));
    return new Set(leases.filter((l) => refused.has(l.ip)).map((l) => l.mac));
  }

  private run(): void {
    this.scheduled = false;
    if (this.inflight) return;
    const b = this.queue.shift();
    if (!b) return;
    for (const mac of b.leases.keys()) this.queuedMac.delete(mac);
    const snapshot = [...b.leases.values()].map((l) => ({ ...l }));
    this.inflight = Promise.resolve()
      .then(() => this.save(snapshot))
      .then(b.resolve, b.reject)
      .finally(() => {
        this.inflight = null;
        // The next batch waits for the next turn of the loop: packets that came in meanwhile go first.
        if (this.queue.length > 0) this.schedule();
      });
  }
}

function newBatch(): Batch {
  let resolve!: (refused: Set<string>) => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<Set<string>>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => undefined);
  return { leases: new Map(), done, resolve, reject };
}
