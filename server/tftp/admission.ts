// Who gets a transfer slot. A request goes through three states:
// - pending: the handler is still finding its file (a menu may wait on the database). The server
//   owes this one an answer, so it is never pushed out; past maxPending new requests are dropped
//   without a word and the client's own retransmission comes back when there is room.
// - unanswered: its first packet (OACK or block 1) is out and its client has not acknowledged it.
//   A flood of spoofed or abandoned RRQs fills only this pool, where the oldest is dropped for the
//   newest, so a real client (which answers within milliseconds) always gets through.
// - answered: the client acknowledged something. Past maxTransfers answered transfers new requests
//   are dropped without a word (their clients ask again), but a request already answered is never
//   cut off: a client that acknowledged its first packet keeps its transfer even when that passes
//   maxTransfers, so at most maxTransfers + maxUnanswered transfers run.
// Per-source limits count all three.

export type AdmittedState = 'pending' | 'unanswered' | 'answered';

/** One request being served, from RRQ to the end of its transfer. */
export interface Admitted {
  id: number;
  /** Client address:port (its transfer id). */
  key: string;
  address: string;
  state: AdmittedState;
}

/** Why a request was not admitted. */
export type Admission =
  | { ok: true; entry: Admitted }
  | { ok: false; reason: 'duplicate' }
  | { ok: false; reason: 'backlog' }
  | { ok: false; reason: 'full' }
  | { ok: false; reason: 'per-client'; message: string };

export interface AdmissionLimits {
  maxTransfers: number;
  maxUnanswered: number;
  maxPending: number;
  maxTransfersPerClient: number;
}

/** Keeps the slot accounting: admitted requests by client key, the three states' counts, per-source counts. */
export class AdmissionControl {
  /** Every admitted request by client key. */
  private readonly byKey = new Map<string, Admitted>();
  /** Unanswered requests, oldest first (Map keeps insertion order). */
  private readonly unanswered = new Map<number, Admitted>();
  private readonly perSource = new Map<string, number>();
  private pendingCount = 0;
  private answeredCount = 0;
  private nextId = 1;

  constructor(private readonly limits: AdmissionLimits) {}

  /** Returns the admitted request from this client address:port, if any. */
  get(key: string): Admitted | undefined {
    return this.byKey.get(key);
  }

  /** Number of requests being served (in any state). */
  get size(): number {
    return this.byKey.size;
  }

  /** Number of transfers whose client has answered. */
  get answered(): number {
    return this.answeredCount;
  }

  /** Admits a request from address:port as pending, or says why not. */
  admit(address: string, port: number): Admission {
    const key = `${address}:${port}`;
    if (this.byKey.has(key)) return { ok: false, reason: 'duplicate' };
    const { maxTransfers, maxPending, maxTransfersPerClient } = this.limits;
    if (this.answeredCount >= maxTransfers) return { ok: false, reason: 'full' };
    const mine = this.perSource.get(address) ?? 0;
    if (mine >= maxTransfersPerClient) return { ok: false, reason: 'per-client', message: `too many transfers from ${address}: limit ${maxTransfersPerClient}` };
    if (this.pendingCount >= maxPending) return { ok: false, reason: 'backlog' };
    const entry: Admitted = { id: this.nextId++, key, address, state: 'pending' };
    this.byKey.set(key, entry);
    this.pendingCount++;
    this.perSource.set(address, mine + 1);
    return { ok: true, entry };
  }

  /** A pending request's first packet is going out: it joins the unanswered pool; returns the oldest one pushed out to make room (the caller ends it), if any. */
  sent(entry: Admitted): Admitted | null {
    if (entry.state !== 'pending' || this.byKey.get(entry.key) !== entry) return null;
    let evicted: Admitted | null = null;
    if (this.unanswered.size >= this.limits.maxUnanswered) {
      evicted = this.unanswered.values().next().value as Admitted;
      this.release(evicted);
    }
    this.pendingCount--;
    entry.state = 'unanswered';
    this.unanswered.set(entry.id, entry);
    return evicted;
  }

  /**
   * Moves a request to the answered transfers, over maxTransfers if need be (its client is there).
   * A request pushed out while its client's first ACK was on its way is taken back, unless another
   * request from that address:port has come meanwhile: then this returns false and the caller ends it.
   */
  answer(entry: Admitted): boolean {
    if (entry.state === 'answered') return this.byKey.get(entry.key) === entry;
    if (this.byKey.get(entry.key) === entry) {
      if (entry.state === 'pending') this.pendingCount--;
      else this.unanswered.delete(entry.id);
    } else {
      if (this.byKey.has(entry.key)) return false;
      this.byKey.set(entry.key, entry);
      this.perSource.set(entry.address, (this.perSource.get(entry.address) ?? 0) + 1);
    }
    entry.state = 'answered';
    this.answeredCount++;
    return true;
  }

  /** Frees the request's slot; returns false when it was already freed. */
  release(entry: Admitted): boolean {
    if (this.byKey.get(entry.key) !== entry) return false;
    this.byKey.delete(entry.key);
    if (entry.state === 'answered') this.answeredCount--;
    else if (entry.state === 'pending') this.pendingCount--;
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
