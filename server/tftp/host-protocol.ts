// What the listening thread and a thread running transfers (a "host": a worker, or the listening
// thread itself) say to each other. Plain data only: it crosses threads by structured clone, and
// chunk bytes travel as views of shared memory, never copied.
import type { TransferTuning } from './settings.ts';
import type { TransferOutcome } from './transfer.ts';

/** Logs one line; pino loggers fit, and so does a worker's forwarder. */
export type LineLog = Record<'debug' | 'info' | 'warn' | 'error', (fields: object, message: string) => void>;

/** Everything a host needs to run one transfer. */
export interface TransferSpec {
  id: number;
  peer: { address: string; port: number };
  /** Local address the request came to: the transfer socket binds to it. */
  local: string;
  family: 'udp4' | 'udp6';
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  oack: Uint8Array | null;
  /** Known when the size is (octet mode); else the last chunk says. */
  lastBlock: number | null;
  chunkBlocks: number;
  /** Chunk key prefix shared with transfers of the same bytes, or null. */
  shareKey: string | null;
}

/** Messages to a host. */
export type ToHost =
  | { t: 'start'; spec: TransferSpec }
  | { t: 'chunk'; id: number; index: number; key: string | null; packets: Uint8Array; count: number; final: boolean }
  | { t: 'chunk-error'; id: number; index: number; message: string }
  | { t: 'again'; id: number }
  /** quiet: pushing out an unanswered request; ignored once the client has answered. */
  | { t: 'abort'; id: number; reason: string; quiet: boolean }
  | { t: 'close' };

/** How a transfer ended, as the host reports it. */
export interface TransferEnd {
  t: 'end';
  id: number;
  outcome: TransferOutcome;
  reason: string;
  packets: number;
  bytes: number;
  retransmissions: number;
  durationMs: number;
  /** The transfer socket could not be opened: nothing was sent. */
  noSocket?: boolean;
}

/** Messages from a host. */
export type FromHost =
  | { t: 'ready' }
  | { t: 'need'; id: number; index: number }
  | { t: 'answered'; id: number }
  | TransferEnd
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: object; message: string }
  | { t: 'lag'; p99Ms: number; maxMs: number; transfers: number }
  | { t: 'closed' };

/** What a host is created with. */
export interface HostInit {
  tuning: TransferTuning;
  /** This host's counters (shared memory when it is a worker). */
  counters: Float64Array;
  /** Transfers running on all hosts, kept by the listening thread (busy polling stays off when many run). */
  running: Int32Array;
}
