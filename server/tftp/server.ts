// The TFTP serve loop: one socket on the listen address takes requests, asks the handler for the
// file, and starts each transfer on a socket of its own. A bad packet is logged and dropped; only
// a failing listen socket stops the server.
import { createSocket, type RemoteInfo, type Socket, type SocketType } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import type { ByteSource } from '../byte-source.ts';
import { KickstandError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { BlockReader } from './block-reader.ts';
import { callHandler, closeSource, tftpCodeFor, type TftpRequest } from './handler.ts';
import { netasciiReader, octetReader } from './netascii.ts';
import { negotiate } from './options.ts';
import { ERR, OP, encodeError, encodeOack, opcodeOf, parseRequest, type RequestPacket } from './packet.ts';
import { newCounters, type TftpCounters, type TftpStats } from './stats.ts';
import { Transfer, type TransferOutcome } from './transfer.ts';
import { BusyPoller } from './busy-poll.ts';
import { resolveSettings, type TftpServerOptions, type TftpSettings } from './settings.ts';

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

type Lookup = (host: string, opts: unknown, cb: (err: Error | null, address: string, family: number) => void) => void;
/** Transfer sockets only ever send to the literal address a request came from: skip DNS. */
const literalLookup: Lookup = (host, _opts, cb) => cb(null, host, host.includes(':') ? 6 : 4);

/** Serves read requests; emits 'transfer' (TransferSummary) as each transfer ends. */
export class TftpServer extends EventEmitter {
  private readonly s: TftpSettings;
  private readonly log: Logger;
  private readonly counters: TftpCounters = newCounters();
  private readonly poller: BusyPoller;
  /** Requests being served, by client address:port (handler pending: null). */
  private readonly peers = new Map<string, Transfer | null>();
  private readonly perClient = new Map<string, number>();
  private socket: Socket | null = null;
  private type: SocketType = 'udp4';
  private boundAddress = '';
  private closed = false;
  private failure: Error | null = null;
  private finishedResolve: (err: Error | null) => void = () => {};
  private readonly finishedPromise: Promise<Error | null>;

  constructor(options: TftpServerOptions) {
    super();
    this.s = resolveSettings(options);
    this.log = options.log;
    this.poller = new BusyPoller(this.s.busyPollUs / 1000);
    this.finishedPromise = new Promise((resolve) => (this.finishedResolve = resolve));
  }

  /** Binds the listen socket and returns the address and port it got. */
  async listen(): Promise<{ address: string; port: number }> {
    if (this.socket) throw new Error('tftp server: listen() called twice');
    this.type = isIPv6(this.s.host) ? 'udp6' : 'udp4';
    const socket = createSocket({ type: this.type });
    await bind(socket, this.s.port, this.s.host);
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      try {
        this.onPacket(msg, rinfo);
      } catch (err) {
        this.log.error({ err }, 'tftp request handling failed');
      }
    });
    socket.on('error', (err) => {
      this.log.error({ err }, 'tftp listen socket failed; server stops');
      this.failure ??= err;
      void this.close();
    });
    const { address, port } = socket.address();
    this.boundAddress = address;
    this.log.info({ address, port }, 'tftp listening');
    return { address, port };
  }

  /** Returns a promise settled when the server stops: null after close(), the error if the socket failed. */
  finished(): Promise<Error | null> {
    return this.finishedPromise;
  }

  /** Stops listening and ends every transfer in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.poller.stop();
    for (const t of this.peers.values()) t?.abort('server shutting down');
    const socket = this.socket;
    if (socket) {
      await new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // already closed by its failure
        }
      });
    }
    this.finishedResolve(this.failure);
  }

  /** Returns the counters since start and the number of transfers in progress. */
  stats(): TftpStats {
    return { ...this.counters, activeTransfers: this.peers.size, busyPollTurns: this.poller.turns };
  }

  private onPacket(msg: Buffer, rinfo: RemoteInfo): void {
    const opcode = opcodeOf(msg);
    if (opcode !== OP.RRQ && opcode !== OP.WRQ) {
      this.counters.malformed++;
      this.log.debug({ from: rinfo.address, opcode, bytes: msg.length }, 'tftp non-request packet on listen port dropped');
      return;
    }
    let req: RequestPacket;
    try {
      req = parseRequest(msg);
    } catch (err) {
      this.counters.malformed++;
      this.log.debug({ from: rinfo.address, bytes: msg.length, reason: (err as Error).message }, 'tftp malformed request dropped');
      return;
    }
    const from = { address: rinfo.address, port: rinfo.port };
    if (req.opcode === OP.WRQ) return this.refuse(from, ERR.ACCESS_VIOLATION, 'write requests are not accepted', req.filename);
    if (req.mode !== 'octet' && req.mode !== 'netascii') {
      return this.refuse(from, ERR.ILLEGAL_OPERATION, `unsupported transfer mode ${JSON.stringify(req.mode)}`, req.filename);
    }
    if (this.closed) return;
    const key = `${from.address}:${from.port}`;
    if (this.peers.has(key)) {
      // The client repeated its request before our first packet reached it; the transfer in
      // progress retransmits on its own.
      this.log.debug({ from: key, filename: req.filename }, 'tftp repeated request ignored');
      return;
    }
    if (this.peers.size >= this.s.maxTransfers) {
      return this.refuse(from, ERR.NOT_DEFINED, `server busy: ${this.s.maxTransfers} transfers in progress`, req.filename, 'warn');
    }
    const mine = this.perClient.get(from.address) ?? 0;
    if (mine >= this.s.maxTransfersPerClient) {
      return this.refuse(from, ERR.NOT_DEFINED, `too many transfers from ${from.address}: limit ${this.s.maxTransfersPerClient}`, req.filename, 'warn');
    }
    this.peers.set(key, null);
    this.perClient.set(from.address, mine + 1);
    const request: TftpRequest = { filename: req.filename, mode: req.mode, remote: from, options: req.options };
    this.serve(request, key).catch((err: unknown) => {
      this.log.error({ err, filename: req.filename }, 'tftp transfer set-up failed');
      this.release(key, from.address);
    });
  }

  private async serve(req: TftpRequest, key: string): Promise<void> {
    const { remote } = req;
    let source: ByteSource | null;
    try {
      source = await callHandler(this.s.handler, req, this.s.handlerTimeoutMs);
    } catch (err) {
      this.release(key, remote.address);
      if (err instanceof KickstandError) {
        this.refuse(remote, tftpCodeFor(err), err.message, req.filename);
      } else {
        this.log.error({ err, filename: req.filename, remote }, 'tftp handler failed');
        this.refuse(remote, ERR.NOT_DEFINED, 'internal error', req.filename);
      }
      return;
    }
    if (source === null) {
      this.release(key, remote.address);
      this.refuse(remote, ERR.FILE_NOT_FOUND, 'file not found', req.filename);
      return;
    }
    if (this.closed) {
      this.release(key, remote.address);
      void closeSource(source);
      return;
    }

    const sizeKnown = req.mode === 'octet' && Number.isSafeInteger(source.size) && source.size >= 0;
    const neg = negotiate(req.options, sizeKnown ? source.size : null, this.s.limits);
    let socket: Socket;
    try {
      socket = createSocket({ type: this.type, lookup: literalLookup as never });
      await bind(socket, 0, this.boundAddress);
    } catch (err) {
      this.release(key, remote.address);
      void closeSource(source);
      this.log.error({ err }, 'tftp could not open a transfer socket');
      this.refuse(remote, ERR.NOT_DEFINED, 'server out of sockets', req.filename, 'warn');
      return;
    }
    const read = req.mode === 'netascii' ? netasciiReader(source) : octetReader(source);
    const chunkBlocks = Math.max(1, Math.floor(this.s.readAheadBytes / neg.blksize));
    const started = performance.now();
    const src = source;
    const transfer: Transfer = new Transfer({
      socket,
      peer: remote,
      reader: new BlockReader(read, neg.blksize, chunkBlocks),
      windowsize: neg.windowsize,
      timeoutMs: neg.timeoutMs,
      retries: this.s.retries,
      oack: neg.oack.length > 0 ? encodeOack(neg.oack) : null,
      counters: this.counters,
      poller: this.poller,
      log: this.log,
      onEnd: (outcome, reason) => {
        socket.close();
        void closeSource(src);
        this.release(key, remote.address);
        this.counters[outcome === 'completed' ? 'transfersCompleted' : outcome === 'aborted' ? 'transfersAborted' : 'transfersFailed']++;
        const summary: TransferSummary = {
          filename: req.filename,
          remote,
          outcome,
          reason,
          blksize: neg.blksize,
          windowsize: neg.windowsize,
          ...transfer.tally,
          durationMs: Math.round(performance.now() - started),
        };
        const line = { filename: req.filename, remote: `${remote.address}:${remote.port}`, bytes: summary.bytes, ms: summary.durationMs, retransmissions: summary.retransmissions };
        if (outcome === 'completed') this.log.info(line, 'tftp transfer completed');
        else if (outcome === 'aborted') this.log.debug({ ...line, reason }, 'tftp transfer ended by client after options');
        else this.log.warn({ ...line, reason }, 'tftp transfer failed');
        this.emit('transfer', summary);
      },
    });
    this.peers.set(key, transfer);
    this.counters.transfersStarted++;
    this.log.debug({ filename: req.filename, remote, options: neg.oack }, 'tftp transfer starting');
    transfer.start();
  }

  /** Answers a request with an ERROR from the listen socket and counts it; `level` says how loudly to log. */
  private refuse(to: { address: string; port: number }, code: number, message: string, filename: string, level: 'debug' | 'warn' = 'debug'): void {
    this.counters.requestsRefused++;
    this.log[level]({ remote: `${to.address}:${to.port}`, filename, code, message }, 'tftp request refused');
    if (!this.closed) this.socket?.send(encodeError(code, message), to.port, to.address);
  }

  private release(key: string, address: string): void {
    if (!this.peers.delete(key)) return;
    const n = (this.perClient.get(address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(address);
    else this.perClient.set(address, n);
  }
}

/** Binds a socket, rejecting on the bind error instead of emitting it. */
function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}
