// Counters a TFTP server keeps for /metrics and tests. Each thread that runs transfers bumps its
// own Float64Array (shared memory when it is a worker), and stats() sums them: no messages, no
// locks, and a scrape never waits for a worker.

/** Every counter, in the order of its slot in a counter array. */
export const COUNTER_NAMES = [
  'transfersStarted',
  /** Every block acknowledged. */
  'transfersCompleted',
  /** Timeouts, client errors mid-transfer, read errors, shutdown. */
  'transfersFailed',
  /** The client ended the transfer right after option negotiation (firmware asking tsize). */
  'transfersAborted',
  /** Requests answered with an ERROR before any transfer: not found, refused, over a limit. */
  'requestsRefused',
  /** Packets dropped because they could not be parsed or made no sense where they arrived. */
  'malformed',
  /** Packets from another address or port reaching a transfer (kept for compatibility: transfer sockets are connected, so the kernel drops them). */
  'wrongTid',
  /** DATA packets sent, retransmissions included. */
  'packetsSent',
  /** DATA payload bytes sent, retransmissions included. */
  'bytesSent',
  /** DATA and OACK packets sent again after a timeout or a client-reported gap. */
  'retransmissions',
  /** ACKs ignored because they acknowledged nothing new. */
  'duplicateAcks',
  /** Retransmission timer expiries. */
  'timeouts',
  /** Requests whose first answer was never acknowledged (spoofed, scanners, clients gone): given up quietly. */
  'unanswered',
  /** Unanswered requests dropped early to make room for newer ones. */
  'evicted',
  /** Requests dropped unanswered because maxTransfers transfers ran or maxPending others waited for the handler (their clients ask again). */
  'deferred',
  /** Event-loop turns spent polling for fast clients' ACKs instead of sleeping (busy polling). */
  'busyPollTurns',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

/** Slot of each counter in a counter array. */
export const C = Object.freeze(Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i]))) as { readonly [K in CounterName]: number };

/** Running totals since the server was created. */
export type TftpCounters = Record<Exclude<CounterName, 'busyPollTurns'>, number>;

/** The counters plus what is in progress now. */
export interface TftpStats extends TftpCounters {
  activeTransfers: number;
  /** Event-loop turns spent polling for fast clients' ACKs instead of sleeping (busy polling). */
  busyPollTurns: number;
}

/** Returns a zeroed counter array, in shared memory when another thread must read it. */
export function newCounterArray(shared = false): Float64Array {
  const bytes = COUNTER_NAMES.length * Float64Array.BYTES_PER_ELEMENT;
  return new Float64Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

/** Returns the sums of the given counter arrays, by name. */
export function sumCounters(arrays: readonly Float64Array[]): Record<CounterName, number> {
  const out = {} as Record<CounterName, number>;
  COUNTER_NAMES.forEach((name, i) => {
    let n = 0;
    for (const a of arrays) n += a[i]!;
    out[name] = n;
  });
  return out;
}
