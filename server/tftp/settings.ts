// TFTP server options: named defaults, checked once at construction, then frozen.
import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { BLKSIZE_RANGE, TIMEOUT_RANGE, WINDOWSIZE_RANGE, blksizeForMtu, type NegotiationLimits } from './options.ts';
import type { TftpHandler } from './handler.ts';
import { nativeAddon, nativeAddonMissing } from './native-engine.ts';

/** Defaults for every tunable of the TFTP server. */
export const TFTP_DEFAULTS = Object.freeze({
  host: '0.0.0.0',
  port: 69,
  /** Retransmission timeout when the client does not negotiate one (RFC 2349 timeout). */
  timeoutMs: 1000,
  /** Largest timeout option granted, in seconds; a client asking more gets no timeout option (RFC 2349 allows 255). */
  maxTimeoutS: 10,
  /** Timeouts in a row without progress before a transfer is given up. */
  retries: 5,
  /** A transfer that makes no progress for this long is given up, whatever its timeout and retries. */
  maxStallMs: 30_000,
  /**
   * How long the first answer (OACK or DATA 1) waits for the client's first ACK before the request
   * is dropped quietly. The waits between resends double (1, 2, 4, 8 s): a client that a loaded host
   * has not scheduled for seconds still gets in, and a spoofed request still costs four small packets.
   */
  firstAckMs: 15_000,
  /** Resends of the first answer before the client has acknowledged anything (its own RRQ retransmissions also get one). */
  firstResends: 3,
  /** Largest blksize granted; the MTU clamps it further. */
  maxBlksize: BLKSIZE_RANGE.max,
  /** Path MTU assumed for clients: 1500 (Ethernet) gives blksize 1468 over IPv4. */
  mtu: 1500,
  maxWindowsize: 64,
  /** Transfers whose client has acknowledged something; past this new requests are dropped (their clients ask again), running ones go on. */
  maxTransfers: 256,
  /** Requests not yet acknowledged; over this the oldest is dropped for the newest. */
  maxUnanswered: 1024,
  /** Requests whose file the handler is still finding (a menu waiting on the database); past this new ones are dropped and their clients ask again. */
  maxPending: 1024,
  maxTransfersPerClient: 16,
  /** Bytes read from the source at a time, ahead of the sender (one chunk). */
  readAheadBytes: 128 * 1024,
  /** Bytes of file chunks kept for transfers of the same file (shared by all of them). */
  cacheBytes: 64 * 1024 * 1024,
  /** How long the handler may take to answer a request. */
  handlerTimeoutMs: 30_000,
  /** Microseconds to keep polling for a fast client's ACK instead of sleeping (0: off; see busy-poll.ts). */
  busyPollUs: 100,
  /** Busy polling stays off while more transfers than this run. */
  busyPollMaxTransfers: 2,
  /** Threads running transfers besides the one taking requests; 0 runs them on the listening thread. */
  workers: 0,
  /** With a wildcard host, how often the local addresses are looked at again (bind-dynamic). */
  addressRefreshMs: 5000,
  /** Data path: 'native' (C threads, native/tftpengine), 'js' (worker threads), 'auto' (native when built). */
  engine: 'auto' as TftpEngine,
});

/** Which code runs the DATA/ACK loop of admitted transfers. */
export type TftpEngine = 'auto' | 'native' | 'js';

export interface TftpServerOptions {
  handler: TftpHandler;
  log: Logger;
  /** Listen address (default 0.0.0.0: every local address, each on its own socket); transfers answer from the address their request came to. */
  host?: string;
  /** Listen port (default 69; 0 lets the OS choose). */
  port?: number;
  timeoutMs?: number;
  maxTimeoutS?: number;
  retries?: number;
  maxStallMs?: number;
  firstAckMs?: number;
  firstResends?: number;
  maxBlksize?: number;
  mtu?: number;
  maxWindowsize?: number;
  maxTransfers?: number;
  maxUnanswered?: number;
  maxPending?: number;
  maxTransfersPerClient?: number;
  readAheadBytes?: number;
  cacheBytes?: number;
  handlerTimeoutMs?: number;
  busyPollUs?: number;
  busyPollMaxTransfers?: number;
  workers?: number;
  addressRefreshMs?: number;
  engine?: TftpEngine;
}

/** What a thread running transfers needs to know (plain data: it crosses to workers). */
export interface TransferTuning {
  retries: number;
  maxStallMs: number;
  firstAckMs: number;
  firstResends: number;
  busyPollUs: number;
  busyPollMaxTransfers: number;
}

/** The options after defaults and checks. */
export interface TftpSettings {
  handler: TftpHandler;
  host: string;
  port: number;
  maxTransfers: number;
  maxUnanswered: number;
  maxPending: number;
  maxTransfersPerClient: number;
  readAheadBytes: number;
  cacheBytes: number;
  handlerTimeoutMs: number;
  workers: number;
  addressRefreshMs: number;
  /** Resolved: 'auto' became 'native' or 'js'. */
  engine: 'native' | 'js';
  tuning: TransferTuning;
  limits: NegotiationLimits;
}

/** Returns the value if it is an integer in [min, max]; throws ConfigError naming the option otherwise. */
function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`tftp option ${name}: ${JSON.stringify(v)} is not an integer in ${min}..${max}`, `tftp.${name}`);
  }
  return v;
}

/** Returns frozen settings from the options, defaults filled in; throws ConfigError on a bad value. */
export function resolveSettings(o: TftpServerOptions): TftpSettings {
  if (typeof o.handler !== 'function') throw new ConfigError('tftp option handler: not a function', 'tftp.handler');
  const d = TFTP_DEFAULTS;
  const host = o.host ?? d.host;
  const mtu = int('mtu', o.mtu, d.mtu, 576, 65535);
  // isIP tries IPv4 first: node's IPv6 pattern costs a start-up milliseconds to compile on first use.
  const mtuBlksize = blksizeForMtu(mtu, isIP(host) === 6 ? 'IPv6' : 'IPv4');
  const maxBlksize = int('maxBlksize', o.maxBlksize, d.maxBlksize, BLKSIZE_RANGE.min, BLKSIZE_RANGE.max);
  return Object.freeze({
    handler: o.handler,
    host,
    port: int('port', o.port, d.port, 0, 65535),
    maxTransfers: int('maxTransfers', o.maxTransfers, d.maxTransfers, 1, 100_000),
    maxUnanswered: int('maxUnanswered', o.maxUnanswered, d.maxUnanswered, 1, 100_000),
    maxPending: int('maxPending', o.maxPending, d.maxPending, 1, 100_000),
    maxTransfersPerClient: int('maxTransfersPerClient', o.maxTransfersPerClient, d.maxTransfersPerClient, 1, 100_000),
    readAheadBytes: int('readAheadBytes', o.readAheadBytes, d.readAheadBytes, 512, 64 * 1024 * 1024),
    cacheBytes: int('cacheBytes', o.cacheBytes, d.cacheBytes, 0, 16 * 1024 * 1024 * 1024),
    handlerTimeoutMs: int('handlerTimeoutMs', o.handlerTimeoutMs, d.handlerTimeoutMs, 1, 3_600_000),
    workers: int('workers', o.workers, d.workers, 0, 64),
    addressRefreshMs: int('addressRefreshMs', o.addressRefreshMs, d.addressRefreshMs, 100, 3_600_000),
    engine: engineFor(o.engine ?? d.engine),
    tuning: Object.freeze({
      retries: int('retries', o.retries, d.retries, 0, 100),
      maxStallMs: int('maxStallMs', o.maxStallMs, d.maxStallMs, 1, 3_600_000),
      firstAckMs: int('firstAckMs', o.firstAckMs, d.firstAckMs, 1, 600_000),
      firstResends: int('firstResends', o.firstResends, d.firstResends, 0, 10),
      busyPollUs: int('busyPollUs', o.busyPollUs, d.busyPollUs, 0, 100_000),
      busyPollMaxTransfers: int('busyPollMaxTransfers', o.busyPollMaxTransfers, d.busyPollMaxTransfers, 0, 100_000),
    }),
    limits: Object.freeze({
      maxBlksize: Math.min(maxBlksize, mtuBlksize),
      maxWindowsize: int('maxWindowsize', o.maxWindowsize, d.maxWindowsize, WINDOWSIZE_RANGE.min, WINDOWSIZE_RANGE.max),
      defaultTimeoutMs: int('timeoutMs', o.timeoutMs, d.timeoutMs, 1, 255_000),
      maxTimeoutS: int('maxTimeoutS', o.maxTimeoutS, d.maxTimeoutS, TIMEOUT_RANGE.min, TIMEOUT_RANGE.max),
    }),
  });
}

/** Returns the engine to run: 'auto' is the native one when its addon is built; 'native' without it is a ConfigError. */
export function engineFor(engine: TftpEngine, built = nativeAddon() !== null, why = () => nativeAddonMissing()): 'native' | 'js' {
  if (engine !== 'auto' && engine !== 'native' && engine !== 'js') throw new ConfigError(`tftp option engine: ${JSON.stringify(engine)} is not auto, native or js`, 'tftp.engine');
  if (engine === 'native' && !built) throw new ConfigError(`tftp option engine: native, but ${why()}`, 'tftp.engine');
  return engine === 'auto' ? (built ? 'native' : 'js') : engine;
}
