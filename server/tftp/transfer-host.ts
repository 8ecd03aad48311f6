// Runs transfers on one thread (a worker, or the listening thread when there are none): opens each
// transfer's socket on the address its request came to, feeds it chunks asked of the listening
// thread, busy-polls for fast clients while few transfers run, and reports answers and ends back.
import { createSocket, type Socket } from 'node:dgram';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { BlockReader, ChunkShelf } from './block-reader.ts';
import { BusyPoller } from './busy-poll.ts';
import type { Chunk } from './chunk.ts';
import type { FromHost, HostInit, LineLog, ToHost, TransferSpec } from './host-protocol.ts';
import { C } from './stats.ts';
import { Transfer } from './transfer.ts';

type Lookup = (host: string, opts: unknown, cb: (err: Error | null, address: string, family: number) => void) => void;
/** Transfer sockets only ever talk to the literal address a request came from: skip DNS. */
const literalLookup: Lookup = (host, _opts, cb) => cb(null, host, host.includes(':') ? 6 : 4);

/** How often the host looks at its event-loop delay while transfers run, and what it reports. */
const LAG_CHECK_MS = 10_000;
const LAG_REPORT_MS = 100;

/** Runs the transfers it is given; `post` carries its messages to the listening thread. */
export class TransferHost {
  private readonly transfers = new Map<number, Transfer>();
  private readonly requests = new Map<string, { resolve: (c: Chunk) => void; reject: (e: Error) => void }>();
  private readonly shelf: ChunkShelf;
  private readonly poller: BusyPoller;
  private readonly log: LineLog;
  private lag: IntervalHistogram | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    private readonly init: HostInit,
    private readonly post: (msg: FromHost) => void,
  ) {
    this.poller = new BusyPoller(init.tuning.busyPollUs / 1000, undefined, (n) => (init.counters[C.busyPollTurns] += n));
    this.shelf = new ChunkShelf((id, index) => this.ask(id, index));
    const line = (level: 'debug' | 'info' | 'warn' | 'error') => (fields: object, message: string) => post({ t: 'log', level, fields, message });
    this.log = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  /** Handles one message from the listening thread. */
  onMessage(msg: ToHost): void {
    switch (msg.t) {
      case 'start':
        return void this.start(msg.spec);
      case 'chunk': {
        const r = this.requests.get(`${msg.id}:${msg.index}`);
        this.requests.delete(`${msg.id}:${msg.index}`);
        return r?.resolve({ key: msg.key, packets: msg.packets, count: msg.count, final: msg.final });
      }
      case 'chunk-error': {
        const r = this.requests.get(`${msg.id}:${msg.index}`);
        this.requests.delete(`${msg.id}:${msg.index}`);
        return r?.reject(new Error(msg.message));
      }
      case 'again':
        return this.transfers.get(msg.id)?.requestedAgain();
      case 'abort':
        return this.transfers.get(msg.id)?.abort(msg.reason, msg.quiet);
      case 'close':
        return this.close();
    }
  }

  /** Transfers running here now. */
  get running(): number {
    return this.transfers.size;
  }

  private ask(id: number, index: number): Promise<Chunk> {
    return new Promise((resolve, reject) => {
      this.requests.set(`${id}:${index}`, { resolve, reject });
      this.post({ t: 'need', id, index });
    });
  }

  private async start(spec: TransferSpec): Promise<void> {
    const started = performance.now();
    let socket: Socket;
    try {
      socket = await openSocket(spec);
    } catch (err) {
      this.post({ t: 'end', id: spec.id, outcome: 'failed', reason: `could not open a transfer socket: ${(err as Error).message}`, packets: 0, bytes: 0, retransmissions: 0, durationMs: 0, noSocket: true });
      return;
    }
    if (this.closing) {
      socket.close();
      this.post({ t: 'end', id: spec.id, outcome: 'failed', reason: 'server shutting down', packets: 0, bytes: 0, retransmissions: 0, durationMs: 0, noSocket: true });
      return;
    }
    const counters = this.init.counters;
    const reader = new BlockReader(this.shelf, spec.id, spec.shareKey, spec.blksize, spec.chunkBlocks, spec.lastBlock);
    const max = this.init.tuning.busyPollMaxTransfers;
    const transfer: Transfer = new Transfer({
      socket,
      reader,
      windowsize: spec.windowsize,
      timeoutMs: spec.timeoutMs,
      tuning: this.init.tuning,
      oack: spec.oack ? Buffer.from(spec.oack.buffer, spec.oack.byteOffset, spec.oack.length) : null,
      counters,
      poller: this.poller,
      mayPoll: () => this.transfers.size <= max && Atomics.load(this.init.running, 0) <= max,
      log: this.log,
      onAnswered: () => this.post({ t: 'answered', id: spec.id }),
      onEnd: (outcome, reason) => {
        this.transfers.delete(spec.id);
        socket.close();
        if (this.transfers.size === 0) this.stopLagWatch();
        this.post({ t: 'end', id: spec.id, outcome, reason, ...transfer.tally, durationMs: Math.round(performance.now() - started) });
        if (this.closing && this.transfers.size === 0) this.post({ t: 'closed' });
      },
    });
    this.transfers.set(spec.id, transfer);
    counters[C.transfersStarted]++;
    if (this.transfers.size === 1) this.startLagWatch();
    transfer.start();
  }

  private close(): void {
    this.closing = true;
    this.poller.stop();
    for (const t of [...this.transfers.values()]) t.abort('server shutting down');
    for (const r of this.requests.values()) r.reject(new Error('server shutting down'));
    this.requests.clear();
    this.stopLagWatch();
    if (this.transfers.size === 0) this.post({ t: 'closed' });
  }

  /** Watches the event loop while transfers run: a loop that falls behind is what starves them. */
  private startLagWatch(): void {
    if (this.lag) return;
    this.lag = monitorEventLoopDelay({ resolution: 20 });
    this.lag.enable();
    this.lagTimer = setInterval(() => {
      const h = this.lag;
      if (!h) return;
      const p99 = h.percentile(99) / 1e6;
      if (p99 >= LAG_REPORT_MS) this.post({ t: 'lag', p99Ms: Math.round(p99), maxMs: Math.round(h.max / 1e6), transfers: this.transfers.size });
      h.reset();
    }, LAG_CHECK_MS);
    this.lagTimer.unref();
  }

  private stopLagWatch(): void {
    this.lag?.disable();
    this.lag = null;
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
  }
}

/** Returns a socket bound to the request's local address (any port: a fresh TID) and connected to the client. */
function openSocket(spec: TransferSpec): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: spec.family, lookup: literalLookup as never });
    const fail = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', fail);
    socket.bind({ port: 0, address: spec.local, exclusive: true }, () => {
      socket.connect(spec.peer.port, spec.peer.address, () => {
        socket.off('error', fail);
        resolve(socket);
      });
    });
  });
}
