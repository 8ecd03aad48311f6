// The serve loop: sockets on ports 67 (and 4011 in proxy mode) on each served interface, decode,
// hand the request to the mode's responder, send the answer out of the interface the request came
// in on, and log what it decided. A bad packet is dropped with a rate-limited log line; the loop
// only stops on close().
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
import { LogThrottle } from './log-throttle.ts';
import { DeviceBindError, interfaceIpv4, interfaceNames, openDeviceSocket } from '../net/device-socket.ts';

export const DEFAULT_PORTS = { server: 67, client: 68, proxy: 4011 } as const;
export const DEFAULT_OFFER_HOLD_MS = 30_000;
export const DEFAULT_DECLINE_QUARANTINE_MS = 3_600_000;
export const DEFAULT_POOL_FULL_LOG_INTERVAL_MS = 60_000;
export const DEFAULT_MALFORMED_LOG_INTERVAL_MS = 60_000;
export const DEFAULT_MAX_IN_FLIGHT = 4096;
/** Socket receive buffer asked for (the kernel caps it at net.core.rmem_max): absorbs bursts while a lease batch is written. */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface DhcpServerOptions {
  mode: 'proxy' | 'full';
  booter: DhcpBooter;
  log: Logger;
  /** Our address on the served link: option 54 and the source of answers. */
  serverIp: string;
  /**
   * Interfaces served (SO_BINDTODEVICE): requests are heard and answered only on these, each
   * answer leaving by the interface its request came in on, from that interface's address.
   * Absent: one socket on bindAddress for every interface (in-process tests on loopback).
   */
  interfaces?: string[];
  /** Address the sockets bind to when no interfaces are given (default 0.0.0.0). */
  bindAddress?: string;
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
  /** Least time between two "dhcp packet dropped" lines (malformed or overload); the others are counted. */
  malformedLogIntervalMs?: number;
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

/** The sockets of one served interface (name null: the unbound sockets of in-process tests). */
interface Link {
  name: string | null;
  /** Source of the answers: the interface's address (server_ip when it is one of them). */
  address: string | null;
  /** 0.0.0.0:67 on the interface: hears broadcasts. */
  main: Socket;
  /** <address>:67 on the interface: answers leave from it; it also hears unicasts to that address. */
  sender: Socket | null;
  /** 0.0.0.0:4011 on the interface (proxy mode). */
  pxe: Socket | null;
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
  private links: Link[] = [];
  private readonly counters: Omit<DhcpStats, 'inFlight' | 'leases'> = { received: 0, malformed: 0, ignored: 0, replies: {}, poolFull: 0, overloaded: 0, sendErrors: 0, notOurs: 0 };
  private inFlight = 0;
  private readonly poolFullLog: LogThrottle;
  private readonly droppedLog: LogThrottle;

  constructor(options: DhcpServerOptions) {
    this.o = options;
    this.ports = options.ports ?? { ...DEFAULT_PORTS };
    this.broadcastAddress = options.broadcastAddress ?? '255.255.255.255';
    this.clock = options.clock ?? Date.now;
    this.poolFullLog = new LogThrottle(options.poolFullLogIntervalMs ?? DEFAULT_POOL_FULL_LOG_INTERVAL_MS, this.clock);
    this.droppedLog = new LogThrottle(options.malformedLogIntervalMs ?? DEFAULT_MALFORMED_LOG_INTERVAL_MS, this.clock);
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
    const names = [...new Set(this.o.interfaces ?? [])];
    try {
      if (names.length === 0) await this.openUnbound(this.o.bindAddress ?? '0.0.0.0');
      for (const name of names) await this.openLink(name, this.linkAddress(name));
    } catch (err) {
      await this.close();
      throw err;
    }
    const first = this.links[0]!;
    const bound = { server: first.main.address().port, proxy: first.pxe ? first.pxe.address().port : null };
    // Port 0 means "chosen by the OS": relays are answered on the port actually bound.
    this.ports = { ...this.ports, server: bound.server, proxy: bound.proxy ?? this.ports.proxy };
    const on = names.length > 0 ? this.links.map((l) => `${l.name} (${l.address})`) : [`all interfaces (${this.o.bindAddress ?? '0.0.0.0'})`];
    this.o.log.info({ mode: this.o.mode, interfaces: on, ...bound, serverIp: this.o.serverIp }, 'dhcp listening');
    return bound;
  }

  /** Closes the sockets and waits for pending lease writes. */
  async close(): Promise<void> {
    const socks = this.links.flatMap((l) => [l.main, l.sender, l.pxe]).filter((s): s is Socket => s !== null);
    this.links = [];
    await Promise.all(socks.map((s) => new Promise<void>((res) => s.close(() => res()))));
    await this.writer?.drain();
  }

  /** Returns the address answers on an interface come from: server_ip when the interface has it, else its first IPv4 address. */
  private linkAddress(name: string): string {
    const addrs = interfaceIpv4(name);
    if (addrs === null) throw new ConfigError(`dhcp.interface: interface ${JSON.stringify(name)} does not exist (this host has: ${interfaceNames().join(', ')})`, 'dhcp.interface');
    if (addrs.length === 0) throw new ConfigError(`dhcp.interface: interface ${JSON.stringify(name)} has no IPv4 address`, 'dhcp.interface');
    return addrs.includes(this.o.serverIp) ? this.o.serverIp : addrs[0]!;
  }

  /** Opens the sockets of one interface, each tied to it with SO_BINDTODEVICE. */
  private async openLink(name: string, address: string): Promise<void> {
    const open = async (addr: string, port: number, reuseAddr: boolean) => {
      try {
        return await openDeviceSocket({ iface: name, address: addr, port, reuseAddr });
      } catch (err) {
        if (err instanceof DeviceBindError && err.reason !== 'bind-failed') throw new ConfigError(`dhcp.interface: ${err.message}`, 'dhcp.interface');
        throw err;
      }
    };
    // main takes the port alone (a second server on this interface fails with EADDRINUSE); once
    // Node wraps it, libuv has set SO_REUSEADDR on it, so the sender can share the port.
    const link: Link = { name, address, main: await open('0.0.0.0', this.ports.server, false), sender: null, pxe: null };
    this.links.push(link);
    // With port 0 (tests) the OS picks one: every socket of every interface shares the first pick.
    this.ports = { ...this.ports, server: link.main.address().port };
    link.sender = await open(address, this.ports.server, true);
    if (this.proxy) {
      link.pxe = await open('0.0.0.0', this.ports.proxy, false);
      this.ports = { ...this.ports, proxy: link.pxe.address().port };
    }
    this.listenOn(link);
  }

  /** Opens plain sockets on one address for every interface (in-process tests on loopback). */
  private async openUnbound(bind: string): Promise<void> {
    const open = (port: number) =>
      new Promise<Socket>((resolve, reject) => {
        const sock = createSocket({ type: 'udp4' });
        sock.once('error', reject);
        sock.bind({ address: bind, port, exclusive: true }, () => {
          sock.off('error', reject);
          resolve(sock);
        });
      });
    const link: Link = { name: null, address: null, main: await open(this.ports.server), sender: null, pxe: null };
    this.links.push(link);
    if (this.proxy) link.pxe = await open(this.ports.proxy);
    this.listenOn(link);
  }

  /** Returns counters since start, with lease counts in full mode. */
  stats(): DhcpStats {
    return { ...this.counters, replies: { ...this.counters.replies }, inFlight: this.inFlight, ...(this.pool ? { leases: this.pool.counts() } : {}) };
  }

  /** Sets the socket options every socket shares and routes its packets to onMessage. */
  private listenOn(link: Link): void {
    for (const sock of [link.main, link.sender, link.pxe]) {
      if (!sock) continue;
      const pxePort = sock === link.pxe;
      sock.setBroadcast(true);
      try {
        sock.setRecvBufferSize(this.o.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES);
      } catch (err) {
        this.o.log.debug({ err: (err as Error).message }, 'dhcp receive buffer left at the default');
      }
      const where = `${link.name ?? 'any'} ${sock.address().address}:${sock.address().port}`;
      sock.on('error', (err) => this.o.log.error({ err: err.message, socket: where }, 'dhcp socket error'));
      sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, link, pxePort));
    }
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo, link: Link, pxePort: boolean): void {
    this.counters.received++;
    let req: DhcpPacket;
    try {
      req = decode(msg, this.o.maxPacketBytes ?? MAX_PACKET_BYTES);
    } catch (err) {
      this.counters.malformed++;
      this.logDropped(rinfo, link, `${(err as Error).message} (${msg.length} bytes)`);
      return;
    }
    const type = req.options.messageType();
    if (req.op !== BOOTREQUEST || type === null) {
      this.counters.malformed++;
      this.logDropped(rinfo, link, req.op !== BOOTREQUEST ? `op ${req.op} is not a bootrequest` : 'no option 53 (plain bootp is not served)');
      return;
    }
    if (this.o.accept && !this.o.accept(req, pxePort)) {
      this.counters.notOurs = (this.counters.notOurs ?? 0) + 1;
      return;
    }
    if (this.inFlight >= (this.o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)) {
      this.counters.overloaded++;
      this.logDropped(rinfo, link, 'too many requests in flight');
      return;
    }
    this.inFlight++;
    const client = clientInfo(req);
    const work = this.full ? this.full.handle(req, client) : this.proxy!.handle(req, client, pxePort);
    work
      .then((out) => this.finish(req, client.mac, msgTypeName(type), out, link, pxePort ? rinfo : null))
      .catch((err: Error) => this.o.log.error({ mac: client.mac, type: msgTypeName(type), err: err.message }, 'dhcp request failed'))
      .finally(() => this.inFlight--);
  }

  /** Logs a dropped packet at most once per interval (a stranger can send any number), with the count held back. */
  private logDropped(rinfo: RemoteInfo, link: Link, reason: string): void {
    const suppressed = this.droppedLog.hit();
    if (suppressed === null) return;
    this.o.log.warn({ from: `${rinfo.address}:${rinfo.port}`, interface: link.name ?? undefined, reason, suppressed }, 'dhcp packet dropped');
  }

  private finish(req: DhcpPacket, mac: string, type: string, out: Outcome, link: Link, pxeSource: RemoteInfo | null): void {
    if (out.kind === 'silent') {
      this.counters.ignored++;
      // A full pool is logged once per interval at warn; each refusal still gets its debug line.
      if (out.poolFull) this.logPoolFull(mac);
      this.o.log[out.poolFull ? 'debug' : out.level]({ mac, type, ip: out.ip, reason: out.reason }, 'dhcp no reply');
      return;
    }
    const replyType = msgTypeName(out.packet.options.messageType());
    const to = pxeSource ? { address: pxeSource.address, port: pxeSource.port } : replyDestination(req, out.packet, this.ports, this.broadcastAddress);
    // The answer leaves by the interface the request came in on (PXE port answers from port 4011).
    const sock = pxeSource ? link.pxe : (link.sender ?? link.main);
    if (!sock || !this.links.includes(link)) return;
    this.counters.replies[replyType] = (this.counters.replies[replyType] ?? 0) + 1;
    this.o.log.info({ mac, type, reply: replyType, ip: out.ip, to: `${to.address}:${to.port}`, interface: link.name ?? undefined, reason: out.reason }, `dhcp ${replyType}`);
    sock.send(encode(out.packet), to.port, to.address, (err) => {
      if (!err) return;
      this.counters.sendErrors++;
      this.o.log.warn({ mac, reply: replyType, to: `${to.address}:${to.port}`, err: err.message }, 'dhcp send failed');
    });
  }

  private logPoolFull(mac: string): void {
    this.counters.poolFull++;
    const suppressed = this.poolFullLog.hit();
    if (suppressed === null) return;
    this.o.log.warn({ mac, suppressed, pool: `${this.o.subnet!.poolStart}-${this.o.subnet!.poolEnd}` }, 'dhcp pool full: no offer');
  }
}
