// Who gets a transfer slot. A request is "unanswered" until its client acknowledges the first
// packet, and only then takes one of the maxTransfers slots: a flood of spoofed or abandoned RRQs
// fills only the unanswered pool, where the oldest is dropped for the newest, so a real client
// (which answers within milliseconds) always gets through. Per-source limits count both kinds.

/** One request being served, from RRQ to the end of its transfer. */
export interface Admitted {
  id: number;
  /** Client address:port (its transfer id). */
  key: string;
  address: string;
  /** Unanswered until the client's first ACK. */
  answered: boolean;
}

/** Why a request was not admitted, or who was pushed out to admit it. */
export type Admission =
  | { ok: true; entry: Admitted; evicted: Admitted | null }
  | { ok: false; reason: 'duplicate' }
  | { ok: false; reason: 'busy' | 'per-client'; message: string };

export interface AdmissionLimits {
  maxTransfers: number;
  maxUnanswered: number;
  maxTransfersPerClient: number;
}

/** Keeps the slot accounting: admitted requests by client key, answered and unanswered counts, per-source counts. */
export class AdmissionControl {
  /** Every admitted request by client key. */
  private readonly byKey = new Map<string, Admitted>();
  /** Unanswered requests, oldest first (Map keeps insertion order). */
  private readonly unanswered = new Map<number, Admitted>();
  private readonly perSource = new Map<string, number>();
  private answeredCount = 0;
  private nextId = 1;

  constructor(private readonly limits: AdmissionLimits) {}

  /** Returns the admitted request from this client address:port, if any. */
  get(key: string): Admitted | undefined {
    return this.byKey.get(key);
  }

  /** Number of requests being served (answered or not). */
  get size(): number {
    return this.byKey.size;
  }

  /** Number of transfers whose client has answered. */
  get answered(): number {
    return this.answeredCount;
  }

  /** Admits a request from address:port or says why not; may push out the oldest unanswered request (the caller ends it). */
  admit(address: string, port: number): Admission {
    const key = `${address}:${port}`;
    if (this.byKey.has(key)) return { ok: false, reason: 'duplicate' };
    const { maxTransfers, maxUnanswered, maxTransfersPerClient } = this.limits;
    if (this.answeredCount >= maxTransfers) return { ok: false, reason: 'busy', message: `server busy: ${maxTransfers} transfers in progress` };
    const mine = this.perSource.get(address) ?? 0;
    if (mine >= maxTransfersPerClient) return { ok: false, reason: 'per-client', message: `too many transfers from ${address}: limit ${maxTransfersPerClient}` };
    let evicted: Admitted | null = null;
    if (this.unanswered.size >= maxUnanswered) {
      evicted = this.unanswered.values().next().value as Admitted;
      this.release(evicted);
    }
    const entry: Admitted = { id: this.nextId++, key, address, answered: false };
    this.byKey.set(key, entry);
    this.unanswered.set(entry.id, entry);
    this.perSource.set(address, mine + 1);
    return { ok: true, entry, evicted };
  }

  /** Moves a request to the answered transfers; returns false when that would pass maxTransfers (the caller refuses it). */
  answer(entry: Admitted): boolean {
    if (entry.answered || !this.unanswered.has(entry.id)) return entry.answered;
    if (this.answeredCount >= this.limits.maxTransfers) return false;
    this.unanswered.delete(entry.id);
    entry.answered = true;
    this.answeredCount++;
    return true;
  }

  /** Frees the request's slot; returns false when it was already freed. */
  release(entry: Admitted): boolean {
    if (this.byKey.get(entry.key) !== entry) return false;
    this.byKey.delete(entry.key);
    if (entry.answered) this.answeredCount--;
    else this.unanswered.delete(entry.id);
    const n = (this.perSource.get(entry.address) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(entry.address);
    else this.perSource.set(entry.address, n);
    return true;
  }

  /** Returns every admitted request (shutdown). */
  all(): Admitted[] {
    return [...this.byKey.values()];
  }
}
