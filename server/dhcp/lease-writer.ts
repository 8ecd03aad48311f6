// Batches lease writes: every lease changed while one saveLeases call runs goes into the next
// call, so thousands of clients per second cost a few store transactions, and each caller learns
// when its own lease is on disk (an ACK is sent only after that: a lease acknowledged survives a restart).
import type { DhcpLease, LeaseStore } from './leases.ts';

export interface LeaseWriterOptions {
  /** Wait this long before writing a batch (0: the next turn of the event loop). */
  delayMs?: number;
}

interface Batch {
  leases: Map<string, DhcpLease>;
  done: Promise<void>;
  resolve: () => void;
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
    options: LeaseWriterOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 0;
  }

  /** Queues a lease (the latest state per MAC wins); resolves when a saveLeases call holding its current state has returned. */
  write(lease: DhcpLease): Promise<void> {
    if (!this.batch) this.batch = newBatch();
    this.batch.leases.set(lease.mac, lease);
    this.schedule();
    return this.batch.done;
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

  private run(): void {
    this.scheduled = false;
    const b = this.batch;
    if (!b || this.inflight) return;
    this.batch = null;
    const snapshot = [...b.leases.values()].map((l) => ({ ...l }));
    this.inflight = Promise.resolve()
      .then(() => this.store.saveLeases(snapshot))
      .then(b.resolve, b.reject)
      .finally(() => {
        this.inflight = null;
        if (this.batch) this.schedule();
      });
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => undefined);
  return { leases: new Map(), done, resolve, reject };
}
