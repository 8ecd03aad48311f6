// Batches lease writes: every lease changed while one saveLeases call runs goes into the next
// call, so thousands of clients per second cost a few store transactions, and each caller learns
// when its own lease is on disk (an ACK is sent only after that: a lease acknowledged survives a restart).
import type { DhcpLease, LeaseStore } from './leases.ts';

export interface LeaseWriterOptions {
  /** Wait this long before writing a batch (0: the next turn of the event loop). */
  delayMs?: number;
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

/** Writes leases to a LeaseStore in batches; write() resolves once that lease's state is saved. */
export class LeaseWriter {
  private batch: Batch | null = null;
  private inflight: Promise<void> | null = null;
  private scheduled = false;
  private readonly delayMs: number;

  constructor(
    private readonly store: LeaseStore,
    private readonly options: LeaseWriterOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 0;
  }

  /**
   * Queues a lease (the latest state per MAC wins); resolves when a store call holding its current
   * state has returned: true when written, false when the store refused it (another client holds the address).
   */
  write(lease: DhcpLease): Promise<boolean> {
    if (!this.batch) this.batch = newBatch();
    this.batch.leases.set(lease.mac, lease);
    this.schedule();
    return this.batch.done.then((refused) => !refused.has(lease.mac));
  }

  /** Resolves when everything queued so far has been written (or failed). */
  async drain(): Promise<void> {
    while (this.batch || this.inflight) {
      const wait = this.batch ? this.batch.done : this.inflight;
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
    const b = this.batch;
    if (!b || this.inflight) return;
    this.batch = null;
    const snapshot = [...b.leases.values()].map((l) => ({ ...l }));
    this.inflight = Promise.resolve()
      .then(() => this.save(snapshot))
      .then(b.resolve, b.reject)
      .finally(() => {
        this.inflight = null;
        if (this.batch) this.schedule();
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
