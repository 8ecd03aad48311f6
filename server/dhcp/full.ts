// Full mode: the authoritative server for one subnet (RFC 2131 section 4.3). Offers from the pool
// or a reservation, ACKs only after the lease is on disk, NAKs what it cannot honour, and handles
// RELEASE, DECLINE and INFORM. A REQUEST naming another server frees our offer and gets no reply.
import type { DhcpPacket } from './packet.ts';
import { MsgType, Opt, msgTypeName } from './options.ts';
import type { DhcpClientInfo } from './client-info.ts';
import type { BootAnswer, DhcpBooter, Reservation } from './booter.ts';
import { LeasePool, type DhcpLease } from './leases.ts';
import type { LeaseWriter } from './lease-writer.ts';
import { ipToInt, intToIp } from './addr.ts';
import { applyBoot, baseReply, silent, type Outcome } from './reply.ts';

/** The one subnet full mode serves. */
export interface SubnetConfig {
  network: string;
  mask: string;
  router?: string;
  dns?: string[];
  domain?: string;
  poolStart: string;
  poolEnd: string;
  leaseSeconds: number;
}

export interface FullResponderOptions {
  booter: DhcpBooter;
  serverIp: string;
  subnet: SubnetConfig;
  pool: LeasePool;
  /** Persists leases; null keeps them in memory only. */
  writer: LeaseWriter | null;
  clock: () => number;
  /** How long an offered address is held for the client's REQUEST. */
  offerHoldMs: number;
  /** How long a declined address stays out of the pool (RFC 2131 section 4.3.3). */
  declineQuarantineMs: number;
  /**
   * Other servers hand out addresses from the same pool (a shared database): offers are claimed
   * in the database before they are sent, so no address is offered to two clients.
   */
  sharedPool?: boolean;
}

/** Addresses tried for one DISCOVER when the shared database refuses the first ones. */
export const MAX_OFFER_TRIES = 4;

/** Answers every client of one subnet with an address, lease times and the booter's boot file. */
export class FullResponder {
  constructor(private readonly o: FullResponderOptions) {}

  /** Returns the outcome for one request to port 67. */
  async handle(req: DhcpPacket, client: DhcpClientInfo): Promise<Outcome> {
    const type = req.options.messageType();
    if (client.relay !== null && !this.o.pool.inSubnet(ipToInt(client.relay)!)) {
      return silent(`relay ${client.relay} is not on the served subnet`);
    }
    switch (type) {
      case MsgType.DISCOVER:
        return this.discover(req, client);
      case MsgType.REQUEST:
        return this.request(req, client);
      case MsgType.DECLINE:
        return this.decline(req, client);
      case MsgType.RELEASE:
        return this.release(req, client);
      case MsgType.INFORM:
        return this.inform(req, client);
      default:
        return silent(`unexpected ${msgTypeName(type)} from a client`, 'debug');
    }
  }

  private async discover(req: DhcpPacket, client: DhcpClientInfo): Promise<Outcome> {
    const [reservation, boot] = await this.lookup(client);
    for (let attempt = 1; ; attempt++) {
      const now = this.o.clock();
      let ip = this.reservedIp(reservation, client.mac);
      let why = ip !== null ? 'reserved' : reservation ? `pool (reservation ${reservation.ip} is off the subnet or held by another client)` : 'pool';
      if (ip === null) ip = this.o.pool.allocate(client.mac, ipToInt(req.options.ip(Opt.REQUESTED_IP) ?? ''));
      if (ip === null) return silent('pool full: no address to offer', 'warn', { poolFull: true });
      const held = this.o.pool.leaseAt(ip);
      if (held && held.mac === client.mac && held.state === 'bound' && held.expiresAt > now) {
        why = `${why}, already bound`;
      } else {
        const { lease } = this.o.pool.assign(client.mac, ip, 'offered', now + this.o.offerHoldMs, reservation?.hostname ?? client.hostname);
        if (this.o.sharedPool) {
          // The database, not this process, decides who holds an address other servers also hand out.
          let written: boolean;
          try {
            written = await this.persist(lease);
          } catch (err) {
            return silent(`offer not claimed, no offer: ${(err as Error).message}`, 'warn', { ip: intToIp(ip) });
          }
          if (!written) {
            this.o.pool.holdForeign(ip, now + this.o.offerHoldMs);
            if (attempt < MAX_OFFER_TRIES) continue;
            return silent(`no offer: ${MAX_OFFER_TRIES} addresses in a row were taken by other servers`, 'warn', { ip: intToIp(ip) });
          }
        }
      }
      const reply = this.leaseReply(req, client, MsgType.OFFER, ip, reservation, boot);
      return { kind: 'reply', packet: reply, ip: intToIp(ip), reason: `${why}${boot ? `, boot ${boot.bootFile}` : ''}` };
    }
  }

  private async request(req: DhcpPacket, client: DhcpClientInfo): Promise<Outcome> {
    const serverId = req.options.ip(Opt.SERVER_ID);
    if (serverId !== null && serverId !== this.o.serverIp) {
      // RFC 2131 section 4.3.2: the client chose another server; our offer is free again.
      const own = this.o.pool.leaseOf(client.mac);
      if (own && own.state === 'offered') this.o.pool.release(own);
      return silent(`request names server ${serverId}`, 'debug');
    }
    const wanted = req.options.ip(Opt.REQUESTED_IP) ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : null);
    const ip = wanted === null ? null : ipToInt(wanted);
    if (ip === null) return silent('request without a requested address or ciaddr');
    if (!this.o.pool.inSubnet(ip)) return this.nak(req, `address ${wanted} is not on the served subnet`);
    const [reservation, boot] = await this.lookup(client);
    const reserved = this.reservedIp(reservation, client.mac);
    if (reserved !== null && reserved !== ip) return this.nak(req, `client has reserved ${intToIp(reserved)}, asked for ${wanted}`);
    if (reserved === null) {
      if (!this.o.pool.availableFor(ip, client.mac)) return this.nak(req, `address ${wanted} is held by another client`);
      const isOwn = this.o.pool.leaseOf(client.mac)?.ip === wanted;
      if (!isOwn && !this.o.pool.inPool(ip)) return this.nak(req, `address ${wanted} is outside the pool and not this client's`);
    }
    const now = this.o.clock();
    const expires = now + this.o.subnet.leaseSeconds * 1000;
    const { lease } = this.o.pool.assign(client.mac, ip, 'bound', expires, reservation?.hostname ?? client.hostname);
    try {
      if (!(await this.persist(lease))) {
        // Another server's client holds it in the shared database.
        this.o.pool.holdForeign(ip, now + this.o.offerHoldMs);
        return this.nak(req, `address ${wanted} is held by another client`);
      }
    } catch (err) {
      return silent(`lease not saved, no ack: ${(err as Error).message}`, 'warn', { ip: wanted! });
    }
    const reply = this.leaseReply(req, client, MsgType.ACK, ip, reservation, boot);
    return { kind: 'reply', packet: reply, ip: wanted!, reason: `bound for ${this.o.subnet.leaseSeconds}s${boot ? `, boot ${boot.bootFile}` : ''}` };
  }

  private async decline(req: DhcpPacket, client: DhcpClientInfo): Promise<Outcome> {
    const serverId = req.options.ip(Opt.SERVER_ID);
    if (serverId !== null && serverId !== this.o.serverIp) return silent(`decline names server ${serverId}`, 'debug');
    const wanted = req.options.ip(Opt.REQUESTED_IP) ?? '';
    const lease = this.o.pool.leaseAt(ipToInt(wanted) ?? -1);
    if (!lease || lease.mac !== client.mac) return silent(`decline of ${JSON.stringify(wanted)}, which this client does not hold`);
    this.o.pool.decline(lease, this.o.clock() + this.o.declineQuarantineMs);
    await this.persist(lease).catch(() => undefined);
    return silent(`declined (address in use on the link?): quarantined for ${Math.round(this.o.declineQuarantineMs / 1000)}s`, 'warn', { ip: wanted });
  }

  private async release(req: DhcpPacket, client: DhcpClientInfo): Promise<Outcome> {
    const serverId = req.options.ip(Opt.SERVER_ID);
    if (serverId !== null && serverId !== this.o.serverIp) return silent(`release names server ${serverId}`, 'debug');
    const lease = this.o.pool.leaseAt(ipToInt(req.ciaddr) ?? -1);
    if (!lease || lease.mac !== client.mac || lease.state === 'declined') return silent(`release of ${req.ciaddr}, which this client does not hold`);
    this.o.pool.release(lease);
    await this.persist(lease).catch(() => undefined);
    return silent('released', 'info', { ip: req.ciaddr });
  }

  private async inform(req: DhcpPacket, client: DhcpClientInfo): Promise<Outcome> {
    if (req.ciaddr === '0.0.0.0') return silent('inform without ciaddr');
    const [, boot] = await this.lookup(client);
    // RFC 2131 section 4.3.5: no yiaddr, no lease time; configuration only.
    const reply = baseReply(req, MsgType.ACK, this.o.serverIp);
    this.subnetOptions(reply);
    if (boot) applyBoot(reply, req, client, boot);
    return { kind: 'reply', packet: reply, ip: req.ciaddr, reason: 'inform: configuration only' };
  }

  private lookup(client: DhcpClientInfo): Promise<[Reservation | null, BootAnswer | null]> {
    return Promise.all([this.o.booter.reservationFor(client.mac), this.o.booter.bootFor(client)]);
  }

  /** Returns the reserved address as a number when it is usable (on the subnet, not held by another MAC). */
  private reservedIp(r: Reservation | null, mac: string): number | null {
    if (!r) return null;
    const ip = ipToInt(r.ip);
    if (ip === null || !this.o.pool.inSubnet(ip) || !this.o.pool.availableFor(ip, mac)) return null;
    return ip;
  }

  /** Writes a lease; resolves false when the database refused it (the address belongs to another client). */
  private async persist(lease: DhcpLease): Promise<boolean> {
    return this.o.writer ? this.o.writer.write(lease) : true;
  }

  private nak(req: DhcpPacket, reason: string): Outcome {
    const reply = baseReply(req, MsgType.NAK, this.o.serverIp);
    reply.options.setString(Opt.MESSAGE, reason);
    return { kind: 'reply', packet: reply, reason };
  }

  private subnetOptions(reply: DhcpPacket): void {
    const s = this.o.subnet;
    reply.options.setIps(Opt.SUBNET_MASK, [s.mask]);
    if (s.router) reply.options.setIps(Opt.ROUTER, [s.router]);
    if (s.dns && s.dns.length > 0) reply.options.setIps(Opt.DNS, s.dns);
    if (s.domain) reply.options.setString(Opt.DOMAIN, s.domain);
    reply.options.setIps(Opt.BROADCAST, [intToIp((this.o.pool.network | ~this.o.pool.mask) >>> 0)]);
  }

  private leaseReply(req: DhcpPacket, client: DhcpClientInfo, type: number, ip: number, r: Reservation | null, boot: BootAnswer | null): DhcpPacket {
    const reply = baseReply(req, type, this.o.serverIp);
    reply.yiaddr = intToIp(ip);
    const secs = this.o.subnet.leaseSeconds;
    // RFC 2131 section 4.4.5: T1 defaults to half the lease, T2 to 7/8 of it.
    reply.options.setU32(Opt.LEASE_TIME, secs).setU32(Opt.RENEWAL_TIME, Math.floor(secs / 2)).setU32(Opt.REBINDING_TIME, Math.floor((secs * 7) / 8));
    this.subnetOptions(reply);
    if (r?.hostname) reply.options.setString(Opt.HOSTNAME, r.hostname);
    if (boot) {
      applyBoot(reply, req, client, boot);
      if (type === MsgType.ACK && (client.isPxe || client.isHttpClient || client.isIpxe)) this.o.booter.onPxe?.(client, boot);
    }
    return reply;
  }
}
