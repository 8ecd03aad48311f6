// The native data path (native/tftpengine, C over epoll): the same host contract as a worker
// (host-protocol.ts messages in, FromHost messages out), but each host is a C thread that runs the
// DATA/ACK loop of its transfers without entering JavaScript per packet. Option negotiation,
// admission, handler calls and the chunk cache stay on the listening thread; chunks cross as views
// of shared memory that C holds a reference to until the transfer lets go. Null when not built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromHost, ToHost } from './host-protocol.ts';
import type { TransferTuning } from './settings.ts';
import { C } from './stats.ts';
import type { TransferOutcome } from './transfer.ts';

/** The addon's functions (native/tftpengine/addon.c). */
interface Addon {
  create(counters: Float64Array[], slots: Int32Array, running: Int32Array, tuning: Float64Array, onEvent: EventFn): unknown;
  start(eng: unknown, thread: number, id: number, local: string, peer: string, port: number, blksize: number, windowsize: number, timeoutMs: number, oack: Uint8Array | null, lastBlock: number, chunkBlocks: number): void;
  chunk(eng: unknown, thread: number, id: number, index: number, packets: Uint8Array, count: number, final: boolean): void;
  message(eng: unknown, thread: number, type: number, id: number, text: string, quiet: boolean): void;
  close(eng: unknown): void;
}

type EventFn = (type: number, thread: number, id: number, index: number, code: number, packets: number, bytes: number, retrans: number, durationMs: number, text: string) => void;

/** Event and message numbers shared with engine.h. */
const EV = { need: 0, answered: 1, end: 2, log: 3 } as const;
const MSG = { chunkError: 2, again: 3, abort: 4 } as const;
const OUTCOMES: TransferOutcome[] = ['completed', 'aborted', 'unanswered', 'failed'];
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** Counter slots the engine bumps, in engine.h's K_* order. */
const SLOTS = ['transfersStarted', 'transfersCompleted', 'transfersFailed', 'transfersAborted', 'malformed', 'packetsSent', 'bytesSent', 'retransmissions', 'duplicateAcks', 'timeouts', 'unanswered', 'busyPollTurns'] as const;

/** Where `node native/build.mjs` (run by `npm install`) puts the addon, below the package root. */
const ADDON_REL = join('native', 'tftpengine', 'build', 'Release', 'tftpengine.node');

let loaded: { addon: Addon | null; why: string } | undefined;

/** Returns the native engine addon, or null when it was not built (the JS engine serves then). */
export function nativeAddon(): Addon | null {
  loaded ??= loadAddon(findAddon(dirname(fileURLToPath(import.meta.url))));
  return loaded.addon;
}

/** Says why nativeAddon() is null (empty when it loaded). */
export function nativeAddonMissing(): string {
  nativeAddon();
  return loaded!.why;
}

/** Returns native/…/tftpengine.node walking up from dir (server/tftp/ through tsx, dist/tftp/ or the bundled dist/kickstand/), or null. */
export function findAddon(dir: string): string | null {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, ADDON_REL))) return join(d, ADDON_REL);
    if (dirname(d) === d) return null;
  }
}

/** Loads the addon at path; a missing or unloadable one is null with the reason. */
export function loadAddon(path: string | null): { addon: Addon | null; why: string } {
  if (process.platform !== 'linux') return { addon: null, why: 'the native engine needs Linux (epoll)' };
  if (!path) return { addon: null, why: `${ADDON_REL} is not built (node native/build.mjs builds it)` };
  try {
    return { addon: createRequire(import.meta.url)(path) as Addon, why: '' };
  } catch (err) {
    return { addon: null, why: `${path} does not load: ${(err as Error).message.split('\n')[0]}` };
  }
}

export interface NativeEngineOptions {
  threads: number;
  tuning: TransferTuning;
  /** One counter array per thread. */
  counters: Float64Array[];
  running: Int32Array;
  onMessage: (host: number, msg: FromHost) => void;
}

/** The C threads running transfers, addressed as hosts 0..threads-1. */
export class NativeEngine {
  private readonly eng: unknown;
  private closed = false;

  constructor(
    private readonly addon: Addon,
    private readonly o: NativeEngineOptions,
  ) {
    const t = o.tuning;
    const tuning = new Float64Array([t.retries, t.maxStallMs, t.firstAckMs, t.firstResends, t.busyPollUs, t.busyPollMaxTransfers]);
    const slots = new Int32Array(SLOTS.map((n) => C[n]));
    this.eng = addon.create(o.counters, slots, o.running, tuning, (type, thread, id, index, code, packets, bytes, retrans, durationMs, text) => {
      const msg = toHostMessage(type, id, index, code, packets, bytes, retrans, durationMs, text);
      if (msg) o.onMessage(thread, msg);
    });
  }

  /** Hands a message for one host to its thread. */
  post(host: number, msg: ToHost): void {
    if (this.closed) return;
    const { addon, eng } = this;
    switch (msg.t) {
      case 'start': {
        const s = msg.spec;
        try {
          addon.start(eng, host, s.id, s.local, s.peer.address, s.peer.port, s.blksize, s.windowsize, s.timeoutMs, s.oack, s.lastBlock ?? -1, s.chunkBlocks);
        } catch (err) {
          const end: FromHost = { t: 'end', id: s.id, outcome: 'failed', reason: `could not open a transfer socket: ${(err as Error).message}`, packets: 0, bytes: 0, retransmissions: 0, durationMs: 0, noSocket: true };
          queueMicrotask(() => this.o.onMessage(host, end));
        }
        return;
      }
      case 'chunk':
        return addon.chunk(eng, host, msg.id, msg.index, msg.packets, msg.count, msg.final);
      case 'chunk-error':
        return addon.message(eng, host, MSG.chunkError, msg.id, msg.message, false);
      case 'again':
        return addon.message(eng, host, MSG.again, msg.id, '', false);
      case 'abort':
        return addon.message(eng, host, MSG.abort, msg.id, msg.reason, msg.quiet);
      case 'close':
        return this.close();
    }
  }

  /** Aborts every transfer (clients that answered are told), stops the threads; their ends are delivered before it returns. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.eng);
  }
}

function toHostMessage(type: number, id: number, index: number, code: number, packets: number, bytes: number, retrans: number, durationMs: number, text: string): FromHost | null {
  switch (type) {
    case EV.need:
      return { t: 'need', id, index };
    case EV.answered:
      return { t: 'answered', id };
    case EV.end:
      return { t: 'end', id, outcome: OUTCOMES[code] ?? 'failed', reason: text, packets, bytes, retransmissions: retrans, durationMs };
    case EV.log:
      return { t: 'log', level: LEVELS[code] ?? 'info', fields: {}, message: text };
    default:
      return null;
  }
}
