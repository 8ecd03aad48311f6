// The serve loop: sockets on ports 67 (and 4011 in proxy mode), decode, hand the request to the
// mode's responder, send and log what it decided. A bad packet is logged at debug and dropped;
// the loop only stops on close().
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from '../log.ts';
import { ConfigError } from '../errors.ts';
import { BOOTREQUEST, decode, encode, MAX_PACKET_BYTES, type DhcpPacket } from './packet.ts';
import { msgTypeName } from './options.ts';
import { clientInfo } from './client-info.ts';
import type { DhcpBooter } from './booter.ts';
import { LeasePool, type LeaseStore } from './leases.ts';
import { LeaseWriter } from './lease-writer.ts';
import { FullResponder, type SubnetConfig } from './full.ts';
import { ProxyResponder } from './proxy.ts';
import { replyDestination, type Outcome } from './reply.ts';
import { ipToInt } from './addr.ts';

export const DEFAULT_PORTS = { server: 67, client: 68, proxy: 4011 } as const;
export const DEFAULT_OFFER_HOLD_MS = 30_000;
export const DEFAULT_DECLINE_QUARANTINE_MS = 3_600_000;
export const DEFAULT_POOL_FULL_LOG_INTERVAL_MS = 60_000;
export const DEFAULT_MAX_IN_FLIGHT = 4096;
/** Socket receive buffer asked for (the kernel caps it at net.core.rmem_max): absorbs bursts while a lease batch is written. */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface DhcpServerOptions {
  mode: 'proxy' | 'full';
  booter: DhcpBooter;
  log: Logger;
  /** Our address on the served link: option 54 and the source of answers. */
  serverIp: string;
  /** Address the sockets bind to (default 0.0.0.0, needed to hear broadcasts). */
  bindAddress?: string;
  /** Address of the served interface; broadcasts are sent from a socket bound here so they leave by that link. */
  interfaceAddress?: string;
  /** Where "broadcast" replies go (default 255.255.255.255; tests use a loopback address). */
  broadcastAddress?: string;
  ports?: { server: number; client: number; proxy: number };
  /** Required in full mode. */
  subnet?: SubnetConfig;
  /** Full mode: where leases live across restarts (memory only when absent). */
  leaseStore?: LeaseStore;
  /** Delay before a batch of lease writes (default 0: next event-loop turn). */
  leaseWriteDelayMs?: number;
  clock?: () => number;
  offerHoldMs?: number;
  declineQuarantineMs?: number;
  poolFullLogIntervalMs?: number;
  sweepIntervalMs?: number;
  maxPacketBytes?: number;
  /** Requests being answered at once; more are dropped (a client retries). */
  maxInFlight?: number;
  recvBufferBytes?: number;
  /** Answers only requests this returns true for (RFC 3074 load balancing: the client's bucket is ours). */
  accept?: (req: DhcpPacket, onPxePort: boolean) => boolean;
  /** Full mode: other servers hand out addresses from the same pool through the same lease store. */
  sharedPool?: { slice: { index: number; count: number } | null };
}

/** Counters since start. */
export interface DhcpStats {
  received: number;
  malformed: number;
  ignored: number;
  replies: Record<string, number>;
  poolFull: number;
  overloaded: number;
  sendErrors: number;
  /** Requests left to another server (load balancing). */
  notOurs?: number;
  inFlight: number;
  leases?: { size: number; offered: number; bound: number; declined: number };
}

/** A DHCP server in proxy or full mode; call listen() to start and close() to stop. */
export class DhcpServer {
  private readonly o: DhcpServerOptions;
  private ports: { server: number; client: number; proxy: number };
  private readonly broadcastAddress: string;
  private readonly clock: () => number;
  private readonly pool: LeasePool | null = null;
  private readonly writer: LeaseWriter | null = null;
  private readonly full: FullResponder | null = null;
  private readonly proxy: ProxyResponder | null = null;
  private main: Socket | null = null;
  private sender: Socket | null = null;
  private pxe: Socket | null = null;
  private readonly counters: Omit<DhcpStats, 'inFlight' | 'leases'> = { received: 0, malformed: 0, ignored: 0, replies: {}, poolFull: 0, overloaded: 0, sendErrors: 0, notOurs: 0 };
  private inFlight = 0;
  private lastPoolFullLog = -Infinity;
  private poolFullSuppressed = 0;

  constructor(options: DhcpServerOptions) {
    this.o = options;
    this.ports = options.ports ?? { ...DEFAULT_PORTS };
    this.broadcastAddress = options.broadcastAddress ?? '255.255.255.255';
    this.clock = options.clock ?? Date.now;
    if (ipToInt(options.serverIp) === null) throw new ConfigError(`dhcp server ip "${options.serverIp}": not an ipv4 address`, 'dhcp.server_ip');
    if (options.mode === 'proxy') {
      this.proxy = new ProxyResponder({ booter: options.booter, serverIp: options.serverIp });
      return;
    }
    const s = options.subnet;
    if (!s) throw new ConfigError('dhcp full mode: a subnet is required', 'dhcp.subnet');
    this.pool = new LeasePool({
      ...s,
      exclude: [options.serverIp, ...(s.router ? [s.router] : [])],
      clock: this.clock,
      sweepIntervalMs: options.sweepIntervalMs,
      slice: options.sharedPool?.slice ?? undefined,
    });
    this.writer = options.leaseStore
      ? new LeaseWriter(options.leaseStore, { delayMs: options.leaseWriteDelayMs, claims: options.sharedPool !== undefined, clock: this.clock })
      : null;
    this.full = new FullResponder({
      booter: options.booter,
      serverIp: options.serverIp,
      subnet: s,
      pool: this.pool,
      writer: this.writer,
      clock: this.clock,
      offerHoldMs: options.offerHoldMs ?? DEFAULT_OFFER_HOLD_MS,
      declineQuarantineMs: options.declineQuarantineMs ?? DEFAULT_DECLINE_QUARANTINE_MS,
      sharedPool: options.sharedPool !== undefined,
    });
  }

  /** Full mode: merges the lease store's rows into the pool (another server's clients were just taken over). */
  async reloadLeases(): Promise<number> {
    if (!this.pool || !this.o.leaseStore) return 0;
    const leases = await this.o.leaseStore.loadLeases();
    this.pool.load(leases);
    return leases.length;
  }

  /** Loads leases (full mode), binds the sockets and returns the ports bound. */
  async listen(): Promise<{ server: number; proxy: number | null }> {
    if (this.pool && this.o.leaseStore) {
      const leases = await this.o.leaseStore.loadLeases();
      this.pool.load(leases);
      this.o.log.info({ leases: leases.length }, 'dhcp leases loaded');
    } else if (this.pool) {
      this.o.log.warn('dhcp full mode without a lease store: leases are not kept across restarts');
    }
    const bind = this.o.bindAddress ?? '0.0.0.0';
    const shared = this.o.interfaceAddress !== undefined && this.o.interfaceAddress !== bind;
    try {
      this.main = await this.open(bind, this.ports.server, shared, false);
      if (shared) this.sender = await this.open(this.o.interfaceAddress!, this.ports.server, true, false);
      if (this.proxy) this.pxe = await this.open(bind, this.ports.proxy, false, true);
    } catch (err) {
      await this.close();
      throw err;
    }
    const bound = { server: this.main.address().port, proxy: this.pxe ? this.pxe.address().port : null };
    // Port 0 means "chosen by the OS": relays are answered on the port actually bound.
    this.ports = { ...this.ports, server: bound.server, proxy: bound.proxy ?? this.ports.proxy };
    this.o.log.info({ mode: this.o.mode, bind, ...bound, serverIp: this.o.serverIp }, 'dhcp listening');
    return bound;
  }

  /** Closes the sockets and waits for pending lease writes. */
  async close(): Promise<void> {
    const socks = [this.main, this.sender, this.pxe].filter((s): s is Socket => s !== null);
    this.main = this.sender = this.pxe = null;
    await Promise.all(socks.map((s) => new Promise<void>((res) => s.close(() => res()))));
    await this.writer?.drain();
  }

  /** Returns counters since start, with lease counts in full mode. */
  stats(): DhcpStats {
    return { ...this.counters, replies: { ...this.counters.replies }, inFlight: this.inFlight, ...(this.pool ? { leases: this.pool.counts() } : {}) };
  }

  private open(address: string, port: number, reuseAddr: boolean, pxePort: boolean): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: 'udp4', reuseAddr });
      sock.once('error', reject);
      sock.bind({ address, port, exclusive: true }, () => {
        sock.off('error', reject);
        sock.setBroadcast(true);
        try {
          sock.setRecvBufferSize(this.o.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES);
        } catch (err) {
          this.o.log.debug({ err: (err as Error).message }, 'dhcp receive buffer left at the default');
        }
        sock.on('error', (err) => this.o.log.error({ err: err.message, address, port }, 'dhcp socket error'));
        sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, pxePort));
        resolve(sock);
      });
    });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo, pxePort: boolean): void {
    this.counters.received++;
    let req: DhcpPacket;
    try {
      req = decode(msg, this.o.maxPacketBytes ?? MAX_PACKET_BYTES);
    } catch (err) {
      this.counters.malformed++;
      this.o.log.debug({ from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: (err as Error).message }, 'dhcp packet dropped');
      return;
    }
    const type = req.options.messageType();
    if (req.op !== BOOTREQUEST || type === null) {
      this.counters.malformed++;
      const reason = req.op !== BOOTREQUEST ? `op ${req.op} is not a bootrequest` : 'no option 53 (plain bootp is not served)';
      this.o.log.debug({ from: `${rinfo.address}:${rinfo.port}`, reason }, 'dhcp packet dropped');
      return;
    }
    if (this.o.accept && !this.o.accept(req, pxePort)) {
      this.counters.notOurs = (this.counters.notOurs ?? 0) + 1;
      return;
    }
    if (this.inFlight >= (this.o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)) {
      this.counters.overloaded++;
      this.o.log.debug({ from: `${rinfo.address}:${rinfo.port}`, reason: 'too many requests in flight' }, 'dhcp packet dropped');
      return;
    }
    this.inFlight++;
    const client = clientInfo(req);
    const work = this.full ? this.full.handle(req, client) : this.proxy!.handle(req, client, pxePort);
    work
      .then((out) => this.finish(req, client.mac, msgTypeName(type), out, pxePort ? rinfo : null))
      .catch((err: Error) => this.o.log.error({ mac: client.mac, type: msgTypeName(type), err: err.message }, 'dhcp request failed'))
      .finally(() => this.inFlight--);
  }

  private finish(req: DhcpPacket, mac: string, type: string, out: Outcome, pxeSource: RemoteInfo | null): void {
    if (out.kind === 'silent') {
      this.counters.ignored++;
      // A full pool is logged once per interval at warn; each refusal still gets its debug line.
      if (out.poolFull) this.logPoolFull(mac);
      this.o.log[out.poolFull ? 'debug' : out.level]({ mac, type, ip: out.ip, reason: out.reason }, 'dhcp no reply');
      return;
    }
    const replyType = msgTypeName(out.packet.options.messageType());
    const to = pxeSource ? { address: pxeSource.address, port: pxeSource.port } : replyDestination(req, out.packet, this.ports, this.broadcastAddress);
    const sock = pxeSource ? this.pxe : to.address === this.broadcastAddress && this.sender ? this.sender : this.main;
    if (!sock) return;
    this.counters.replies[replyType] = (this.counters.replies[replyType] ?? 0) + 1;
    this.o.log.info({ mac, type, reply: replyType, ip: out.ip, to: `${to.address}:${to.port}`, reason: out.reason }, `dhcp ${replyType}`);
    sock.send(encode(out.packet), to.port, to.address, (err) => {
      if (!err) return;
      this.counters.sendErrors++;
      this.o.log.warn({ mac, reply: replyType, to: `${to.address}:${to.port}`, err: err.message }, 'dhcp send failed');
    });
  }

  private logPoolFull(mac: string): void {
    this.counters.poolFull++;
    const now = this.clock();
    if (now - this.lastPoolFullLog < (this.o.poolFullLogIntervalMs ?? DEFAULT_POOL_FULL_LOG_INTERVAL_MS)) {
      this.poolFullSuppressed++;
      return;
    }
    this.lastPoolFullLog = now;
    this.o.log.warn({ mac, suppressed: this.poolFullSuppressed, pool: `${this.o.subnet!.poolStart}-${this.o.subnet!.poolEnd}` }, 'dhcp pool full: no offer');
    this.poolFullSuppressed = 0;
  }
}
