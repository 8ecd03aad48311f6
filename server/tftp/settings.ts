// TFTP server options: named defaults, checked once at construction, then frozen.
import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { BLKSIZE_RANGE, WINDOWSIZE_RANGE, blksizeForMtu, type NegotiationLimits } from './options.ts';
import type { TftpHandler } from './handler.ts';

/** Defaults for every tunable of the TFTP server. */
export const TFTP_DEFAULTS = Object.freeze({
  host: '0.0.0.0',
  port: 69,
  /** Retransmission timeout when the client does not negotiate one (RFC 2349 timeout). */
  timeoutMs: 1000,
  /** Timeouts in a row without progress before a transfer is given up. */
  retries: 5,
  /** Largest blksize granted; the MTU clamps it further. */
  maxBlksize: BLKSIZE_RANGE.max,
  /** Path MTU assumed for clients: 1500 (Ethernet) gives blksize 1468 over IPv4. */
  mtu: 1500,
  maxWindowsize: 64,
  maxTransfers: 256,
  maxTransfersPerClient: 16,
  /** Bytes read from the source at a time, ahead of the sender. */
  readAheadBytes: 256 * 1024,
  /** How long the handler may take to answer a request. */
  handlerTimeoutMs: 30_000,
  /** Microseconds to keep polling for a fast client's ACK instead of sleeping (0: off; see busy-poll.ts). */
  busyPollUs: 100,
});

export interface TftpServerOptions {
  handler: TftpHandler;
  log: Logger;
  /** Listen address (default 0.0.0.0); transfer sockets bind to the same address. */
  host?: string;
  /** Listen port (default 69; 0 lets the OS choose). */
  port?: number;
  timeoutMs?: number;
  retries?: number;
  maxBlksize?: number;
  mtu?: number;
  maxWindowsize?: number;
  maxTransfers?: number;
  maxTransfersPerClient?: number;
  readAheadBytes?: number;
  handlerTimeoutMs?: number;
  busyPollUs?: number;
}

/** The options after defaults and checks. */
export interface TftpSettings {
  handler: TftpHandler;
  host: string;
  port: number;
  retries: number;
  maxTransfers: number;
  maxTransfersPerClient: number;
  readAheadBytes: number;
  handlerTimeoutMs: number;
  busyPollUs: number;
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
  const mtuBlksize = blksizeForMtu(mtu, isIPv6(host) ? 'IPv6' : 'IPv4');
  const maxBlksize = int('maxBlksize', o.maxBlksize, d.maxBlksize, BLKSIZE_RANGE.min, BLKSIZE_RANGE.max);
  return Object.freeze({
    handler: o.handler,
    host,
    port: int('port', o.port, d.port, 0, 65535),
    retries: int('retries', o.retries, d.retries, 0, 100),
    maxTransfers: int('maxTransfers', o.maxTransfers, d.maxTransfers, 1, 100_000),
    maxTransfersPerClient: int('maxTransfersPerClient', o.maxTransfersPerClient, d.maxTransfersPerClient, 1, 100_000),
    readAheadBytes: int('readAheadBytes', o.readAheadBytes, d.readAheadBytes, 512, 64 * 1024 * 1024),
    handlerTimeoutMs: int('handlerTimeoutMs', o.handlerTimeoutMs, d.handlerTimeoutMs, 1, 3_600_000),
    busyPollUs: int('busyPollUs', o.busyPollUs, d.busyPollUs, 0, 100_000),
    limits: Object.freeze({
      maxBlksize: Math.min(maxBlksize, mtuBlksize),
      maxWindowsize: int('maxWindowsize', o.maxWindowsize, d.maxWindowsize, WINDOWSIZE_RANGE.min, WINDOWSIZE_RANGE.max),
      defaultTimeoutMs: int('timeoutMs', o.timeoutMs, d.timeoutMs, 1, 255_000),
    }),
  });
}
