// The TFTP serve loop: listening sockets (one per local address) take requests, admission decides
// who gets a slot, the handler names the file, and each transfer runs on a socket of its own, bound
// to the address its request came to, on one of the transfer threads. This thread keeps the
// sources and the shared chunk cache and answers the threads' chunk requests. A bad packet is
// logged (rate-limited) and dropped; only a failing listen socket of a specific host stops the server.
import type { RemoteInfo } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { ByteSource } from '../byte-source.ts';
import { KickstandError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { AdmissionControl, type Admitted } from './admission.ts';
import { ChunkCache, ChunkProducer } from './chunk-cache.ts';
import { callHandler, closeSource, tftpCodeFor, type TftpRequest } from './handler.ts';
import type { FromHost, TransferEnd } from './host-protocol.ts';
import { Listeners } from './listeners.ts';
import { LogLimiter } from './log-limit.ts';
import { netasciiReader, octetReader } from './netascii.ts';
import { negotiate } from './options.ts';
import { ERR, OP, encodeError, encodeOack, opcodeOf, parseRequest, type RequestPacket } from './packet.ts';
import { nativeAddonMissing } from './native-engine.ts';
import { resolveSettings, type TftpServerOptions, type TftpSettings } from './settings.ts';
import { C, newCounterArray, sumCounters, type TftpStats } from './stats.ts';
import { TransferPool } from './transfer-pool.ts';
import type { TransferOutcome } from './transfer.ts';

/** What the 'transfer' event carries when a transfer ends. */
export interface TransferSummary {
  filename: string;
  remote: { address: string; port: number };
  outcome: TransferOutcome;
  reason: string;
  blksize: number;
  windowsize: number;
  packets: number;
  bytes: number;
  retransmissions: number;
  durationMs: number;
}

export type { TftpHandler, TftpRequest } from './handler.ts';

/** A request from RRQ to the end of its transfer. */
interface Live {
  entry: Admitted;
  req: TftpRequest;
  local: string;
  reply: (pkt: Buffer, port: number, address: string) => void;
  /** Host running the transfer; null while the handler is still answering. */
  host: number | null;
  source: ByteSource | null;
  producer: ChunkProducer | null;
  blksize: number;
  windowsize: number;
  started: number;
  /** Ended (refused, or the server closed) before its transfer started. */
  dropped: boolean;
}

/** Serves read requests; emits 'transfer' (TransferSummary) as each transfer ends. */
export class TftpServer extends EventEmitter {
  private readonly s: TftpSettings;
  private readonly log: Logger;
  private readonly limited: LogLimiter;
  /** What this thread counts itself (refusals, malformed requests, evictions). */
  private readonly counters = newCounterArray();
  private readonly admission: AdmissionControl;
  private readonly cache: ChunkCache;
  /** Requests in progress on all hosts, shared with them (busy polling stays off when many run). */
  private readonly running = new Int32Array(new SharedArrayBuffer(4));
  private readonly live = new Map<number, Live>();
  private pool: TransferPool | null = null;
  private sockets: Listeners | null = null;
  private closed = false;
  private failure: Error | null = null;
  private finishedResolve: (err: Error | null) => void = () => {};
  private readonly finishedPromise: Promise<Error | null>;
  /** The engine the options asked for ('auto' when they did not say). */
  private readonly engineAsked: string;

  constructor(options: TftpServerOptions) {
    super();
    this.s = resolveSettings(options);
    this.engineAsked = options.engine ?? 'auto';
    this.log = options.log;
    this.limited = new LogLimiter(this.log);
    this.admission = new AdmissionControl(this.s);
    this.cache = new ChunkCache(this.s.cacheBytes);
    this.finishedPromise = new Promise((resolve) => (this.finishedResolve = resolve));
  }

  /** Starts the transfer threads, binds the listening sockets and returns the address and port. */
  async listen(): Promise<{ address: string; port: number }> {
    if (this.pool) throw new Error('tftp server: listen() called twice');
    const pool = new TransferPool({
      workers: this.s.workers,
      native: this.s.engine === 'native',
      tuning: this.s.tuning,
      running: this.running,
      onMessage: (host, msg) => this.onHostMessage(host, msg),
      onLost: (host, err) => this.onHostLost(host, err),
    });
    this.pool = pool;
    await pool.start();
    this.log.info({ engine: this.s.engine, asked: this.engineAsked }, this.engineLine());
    const listeners = new Listeners({
      host: this.s.host,
      port: this.s.port,
      refreshMs: this.s.addressRefreshMs,
      log: this.log,
      onPacket: (msg, rinfo, local, reply) => {
        try {
          this.onPacket(msg, rinfo, local, reply);
        } catch (err) {
          this.log.error({ err }, 'tftp request handling failed');
        }
      },
      onFatal: (err) => {
        this.log.error({ err }, 'tftp listen socket failed; server stops');
        this.failure ??= err;
        void this.close();
      },
    });
    try {
      const { address, port } = await listeners.start();
      this.sockets = listeners;
      this.log.info({ address, port, addresses: listeners.addresses(), workers: this.s.workers, engine: this.s.engine }, 'tftp listening');
      return { address, port };
    } catch (err) {
      await pool.close();
      throw err;
    }
  }

  /** Says which engine runs the transfers and why it is that one. */
  private engineLine(): string {
    if (this.s.engine === 'native') return `tftp engine: native (C over epoll, ${Math.max(1, this.s.workers)} threads)`;
    const where = this.s.workers === 0 ? 'on the listening thread' : `on ${this.s.workers} worker threads`;
    const why = this.engineAsked === 'js' ? 'tftp.engine is js' : `the native one is not available: ${nativeAddonMissing()}`;
    return `tftp engine: js ${where} (${why})`;
  }

  /** Returns a promise settled when the server stops: null after close(), the error if the socket failed. */
  finished(): Promise<Error | null> {
    return this.finishedPromise;
  }

  /** Addresses listened on now (one socket each). */
  addresses(): string[] {
    return this.sockets?.addresses() ?? [];
  }

  /** Stops listening and ends every transfer in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sockets?.close();
    await this.pool?.close();
    // Whatever a host did not report before it stopped ends here, so no source stays open.
    for (const l of [...this.live.values()]) {
      if (l.host === null) this.drop(l);
      else this.finish(l, { t: 'end', id: l.entry.id, outcome: 'failed', reason: 'server shutting down', packets: 0, bytes: 0, retransmissions: 0, durationMs: Math.round(performance.now() - l.started) });
    }
    this.finishedResolve(this.failure);
  }

  /** Returns the counters since start and the number of transfers in progress. */
  stats(): TftpStats {
    const all = sumCounters([this.counters, ...(this.pool?.counters() ?? [])]);
    return { ...all, activeTransfers: this.admission.size };
  }

  private onPacket(msg: Buffer, rinfo: RemoteInfo, local: string, reply: Live['reply']): void {
    const opcode = opcodeOf(msg);
    if (opcode !== OP.RRQ && opcode !== OP.WRQ) {
      this.counters[C.malformed]++;
      this.log.debug({ from: rinfo.address, opcode, bytes: msg.length }, 'tftp non-request packet on listen port dropped');
      return;
    }
    let req: RequestPacket;
    try {
      req = parseRequest(msg);
    } catch (err) {
      this.counters[C.malformed]++;
      const fields = { from: rinfo.address, bytes: msg.length, reason: (err as Error).message };
      this.log.debug(fields, 'tftp malformed request dropped');
      this.limited.line('warn', 'malformed', fields, 'tftp is receiving malformed requests and ignoring them');
      return;
    }
    const from = { address: rinfo.address, port: rinfo.port };
    if (req.opcode === OP.WRQ) return this.refuse(reply, from, ERR.ACCESS_VIOLATION, 'write requests are not accepted', req.filename);
    if (req.mode !== 'octet' && req.mode !== 'netascii') {
      return this.refuse(reply, from, ERR.ILLEGAL_OPERATION, `unsupported transfer mode ${JSON.stringify(req.mode)}`, req.filename);
    }
    if (this.closed) return;
    const admitted = this.admission.admit(from.address, from.port);
    if (!admitted.ok) {
      if (admitted.reason === 'duplicate') return this.requestedAgain(`${from.address}:${from.port}`);
      if (admitted.reason === 'backlog' || admitted.reason === 'full') return this.deferred(admitted.reason, from, req.filename);
      this.limited.line('warn', `refused-${admitted.reason}`, { remote: `${from.address}:${from.port}`, filename: req.filename }, `tftp request refused: ${admitted.message}`);
      return this.refuse(reply, from, ERR.NOT_DEFINED, admitted.message, req.filename, true);
    }
    const l: Live = {
      entry: admitted.entry,
      req: { filename: req.filename, mode: req.mode, remote: from, options: req.options },
      local,
      reply,
      host: null,
      source: null,
      producer: null,
      blksize: 0,
      windowsize: 0,
      started: performance.now(),
      dropped: false,
    };
    this.live.set(l.entry.id, l);
    this.setRunning();
    this.serve(l).catch((err: unknown) => {
      this.log.error({ err, filename: req.filename }, 'tftp transfer set-up failed');
      this.drop(l);
    });
  }

  /** The client sent its request again while it is being served: its first answer may be lost. */
  private requestedAgain(key: string): void {
    const entry = this.admission.get(key);
    const l = entry && this.live.get(entry.id);
    if (l && l.host !== null && entry.state === 'unanswered') this.pool!.post(l.host, { t: 'again', id: entry.id });
  }

  /** Drops a request without a word while the server is full (maxTransfers) or behind (maxPending): the client asks again. */
  private deferred(why: 'backlog' | 'full', from: { address: string; port: number }, filename: string): void {
    this.counters[C.deferred]++;
    const fields = { remote: `${from.address}:${from.port}`, filename };
    if (why === 'full') this.limited.line('warn', 'deferred-full', { ...fields, transfers: this.s.maxTransfers }, `tftp has ${this.s.maxTransfers} transfers in progress (tftp.max_transfers); new requests are dropped until some end, and their clients ask again`);
    else this.limited.line('warn', 'deferred-backlog', { ...fields, pending: this.s.maxPending }, `tftp has ${this.s.maxPending} requests waiting for their file (tftp.max_pending); newer ones are dropped until the handler catches up, and their clients ask again`);
  }

  /** Pushes out an unanswered request to make room for a newer one; a transfer whose client has already answered ignores it (quiet abort). */
  private evict(entry: Admitted): void {
    this.counters[C.evicted]++;
    this.limited.line('warn', 'evicted', { remote: entry.key, unanswered: this.s.maxUnanswered }, `tftp has ${this.s.maxUnanswered} requests whose clients never answered (spoofed or gone); dropping the oldest for new ones`);
    const l = this.live.get(entry.id);
    if (l?.host != null) this.pool!.post(l.host, { t: 'abort', id: entry.id, reason: 'pushed out by newer requests', quiet: true });
  }

  private async serve(l: Live): Promise<void> {
    const { req } = l;
    const { remote } = req;
    let source: ByteSource | null;
    try {
      source = await callHandler(this.s.handler, req, this.s.handlerTimeoutMs);
    } catch (err) {
      this.drop(l);
      if (err instanceof KickstandError) {
        this.refuse(l.reply, remote, tftpCodeFor(err), err.message, req.filename);
      } else {
        this.log.error({ err, filename: req.filename, remote }, 'tftp handler failed');
        this.refuse(l.reply, remote, ERR.NOT_DEFINED, 'internal error', req.filename);
      }
      return;
    }
    if (source === null) {
      this.drop(l);
      this.refuse(l.reply, remote, ERR.FILE_NOT_FOUND, 'file not found', req.filename);
      return;
    }
    if (l.dropped || this.closed) {
      void closeSource(source);
      this.drop(l);
      return;
    }
    l.source = source;
    const sizeKnown = req.mode === 'octet' && Number.isSafeInteger(source.size) && source.size >= 0;
    const neg = negotiate(req.options, sizeKnown ? source.size : null, this.s.limits);
    const sequential = req.mode === 'netascii' ? netasciiReader(source) : sizeKnown ? null : octetReader(source);
    const chunkBlocks = Math.max(1, Math.floor(this.s.readAheadBytes / neg.blksize));
    const producer = new ChunkProducer(source, sequential, neg.blksize, chunkBlocks, this.s.cacheBytes > 0 ? this.cache : null);
    l.producer = producer;
    l.blksize = neg.blksize;
    l.windowsize = neg.windowsize;
    const host = this.pool!.pick();
    l.host = host;
    const evicted = this.admission.sent(l.entry);
    this.log.debug({ filename: req.filename, remote, options: neg.oack, host }, 'tftp transfer starting');
    this.pool!.post(host, {
      t: 'start',
      spec: {
        id: l.entry.id,
        peer: remote,
        local: l.local,
        family: isIP(l.local.split('%')[0]!) === 6 ? 'udp6' : 'udp4',
        blksize: neg.blksize,
        windowsize: neg.windowsize,
        timeoutMs: neg.timeoutMs,
        oack: neg.oack.length > 0 ? encodeOack(neg.oack) : null,
        lastBlock: producer.lastBlock,
        chunkBlocks,
        shareKey: producer.shareKey,
      },
    });
    if (evicted) this.evict(evicted);
  }

  private onHostMessage(host: number, msg: FromHost): void {
    switch (msg.t) {
      case 'need':
        return this.feed(host, msg.id, msg.index);
      case 'answered': {
        const l = this.live.get(msg.id);
        if (!l) return;
        // Pushed out, and a newer request from the same address:port took its place: that one goes on.
        if (!this.admission.answer(l.entry)) this.pool!.post(host, { t: 'abort', id: msg.id, reason: 'superseded by a newer request from this port', quiet: false });
        return;
      }
      case 'end':
        return this.ended(host, msg);
      case 'log':
        return this.log[msg.level](msg.fields, msg.message);
      case 'lag':
        this.limited.line('warn', 'lag', { p99Ms: msg.p99Ms, maxMs: msg.maxMs, transfers: msg.transfers, host }, `tftp transfer thread ${host} is falling behind (event loop delay p99 ${msg.p99Ms} ms with ${msg.transfers} transfers): clients wait for every packet; the machine is short of CPU`);
        return;
      default:
        return;
    }
  }

  /** Answers a host's request for a chunk of one of its transfers. */
  private feed(host: number, id: number, index: number): void {
    const l = this.live.get(id);
    if (!l?.producer) return this.pool!.post(host, { t: 'chunk-error', id, index, message: 'transfer is over' });
    l.producer.chunk(index).then(
      (c) => this.pool!.post(host, { t: 'chunk', id, index, key: c.key, packets: c.packets, count: c.count, final: c.final }),
      (err: unknown) => this.pool!.post(host, { t: 'chunk-error', id, index, message: (err as Error).message }),
    );
  }

  private ended(host: number, end: TransferEnd): void {
    const l = this.live.get(end.id);
    if (!l) return;
    this.pool!.ended(host);
    this.finish(l, end);
    if (end.noSocket) {
      this.log.error({ reason: end.reason }, 'tftp could not open a transfer socket');
      this.refuse(l.reply, l.req.remote, ERR.NOT_DEFINED, 'server out of sockets', l.req.filename, true);
    }
  }

  /** A worker died: its transfers are gone. */
  private onHostLost(host: number, err: Error): void {
    this.log.error({ err, host }, `tftp transfer thread ${host} died; its transfers failed, starting a new one`);
    for (const l of [...this.live.values()]) {
      if (l.host === host) this.finish(l, { t: 'end', id: l.entry.id, outcome: 'failed', reason: 'transfer thread died', packets: 0, bytes: 0, retransmissions: 0, durationMs: Math.round(performance.now() - l.started) });
    }
  }

  /** Frees a transfer's slot and source, logs it and emits its summary. */
  private finish(l: Live, end: TransferEnd): void {
    if (!this.live.delete(l.entry.id)) return;
    this.admission.release(l.entry);
    this.setRunning();
    const src = l.source;
    if (src) void l.producer!.settled().then(() => closeSource(src));
    const { req } = l;
    const summary: TransferSummary = {
      filename: req.filename,
      remote: req.remote,
      outcome: end.outcome,
      reason: end.reason,
      blksize: l.blksize,
      windowsize: l.windowsize,
      packets: end.packets,
      bytes: end.bytes,
      retransmissions: end.retransmissions,
      durationMs: end.durationMs,
    };
    const line = { filename: req.filename, remote: `${req.remote.address}:${req.remote.port}`, bytes: summary.bytes, ms: summary.durationMs, retransmissions: summary.retransmissions };
    if (end.outcome === 'completed') this.log.info(line, 'tftp transfer completed');
    else if (end.outcome === 'aborted') this.log.debug({ ...line, reason: end.reason }, 'tftp transfer ended by client after options');
    else if (end.outcome === 'unanswered') {
      this.log.debug({ ...line, reason: end.reason }, 'tftp request never answered');
      this.limited.line('info', 'unanswered', line, `tftp requests left unanswered by their clients (spoofed, scanners, or clients gone): ${end.reason}`);
    } else this.limited.line('warn', 'failed', { ...line, reason: end.reason }, `tftp transfer failed: ${end.reason}`);
    this.emit('transfer', summary);
  }

  /** Ends a request that never reached a host (refused by the handler, shutdown). */
  private drop(l: Live): void {
    if (l.host !== null) return;
    l.dropped = true;
    if (!this.live.delete(l.entry.id)) return;
    this.admission.release(l.entry);
    this.setRunning();
    if (l.source) void closeSource(l.source);
  }

  private setRunning(): void {
    Atomics.store(this.running, 0, this.admission.size);
  }

  /** Answers a request with an ERROR from the socket it came to and counts it; `loud` ones are already logged. */
  private refuse(reply: Live['reply'], to: { address: string; port: number }, code: number, message: string, filename: string, logged = false): void {
    this.counters[C.requestsRefused]++;
    if (!logged) this.log.debug({ remote: `${to.address}:${to.port}`, filename, code, message }, 'tftp request refused');
    if (!this.closed) reply(encodeError(code, message), to.port, to.address);
  }
}
