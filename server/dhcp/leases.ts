// The lease pool of full mode: who holds which address, and which address to hand out next in
// O(1) amortised time (a cursor over never-used addresses, then a queue of freed ones, then a
// rate-limited sweep for expired leases). It never scans the pool per DISCOVER.
import { ConfigError } from '../errors.ts';
import { inSubnet, intToIp, ipToInt } from './addr.ts';

/** One lease, as persisted. One lease per address; a MAC holds at most one live lease. */
export interface DhcpLease {
  /** aa:bb:cc:dd:ee:ff, lowercase. */
  mac: string;
  ip: string;
  hostname: string | null;
  state: 'offered' | 'bound' | 'declined' | 'released';
  /** Epoch ms: end of the lease, of the offer hold, or of a decline quarantine. */
  expiresAt: number;
  updatedAt: number;
}

/**
 * Where leases are kept across restarts. saveLeases upserts each lease keyed by its MAC (one row
 * per client); rows may go stale when an address moved to another client: load() keeps the newest.
 */
export interface LeaseStore {
  loadLeases(): Promise<DhcpLease[]>;
  saveLeases(leases: DhcpLease[]): Promise<void>;
  /**
   * Writes each lease unless the store says its address belongs to another client at now; returns
   * the addresses refused. Stores shared by several servers decide there, not in any one process.
   */
  claimLeases?(leases: DhcpLease[], now: number): Promise<string[]>;
}

export interface LeasePoolOptions {
  network: string;
  mask: string;
  poolStart: string;
  poolEnd: string;
  /** Addresses never handed out from the pool (server, router). */
  exclude?: string[];
  clock?: () => number;
  /** Least time between two sweeps for expired leases, so a full pool never spins. */
  sweepIntervalMs?: number;
  /**
   * Several servers sharing the pool: never-used addresses are tried from this server's slice
   * first (every count-th address from index), so servers rarely reach for the same one.
   */
  slice?: { index: number; count: number };
}

/** MAC recorded for an address another server's client holds (its real MAC is the database's business). */
export const FOREIGN_MAC = '';

export const DEFAULT_SWEEP_INTERVAL_MS = 5_000;

/** Returns true when nobody holds a lease any more: released, or expired (offer, lease or quarantine). */
export function leaseIsFree(l: DhcpLease, now: number): boolean {
  return l.state === 'released' || l.expiresAt <= now;
}

/** Tracks leases by MAC and address and picks free addresses for new clients. */
export class LeasePool {
  readonly network: number;
  readonly mask: number;
  readonly start: number;
  readonly end: number;
  private readonly exclude = new Set<number>();
  private readonly byIp = new Map<number, DhcpLease>();
  private readonly byMac = new Map<string, DhcpLease>();
  private cursor: number;
  private sliceCursor: number | null = null;
  private sliceStep = 1;
  private queue: number[] = [];
  private head = 0;
  private readonly queued = new Set<number>();
  private lastSweep = -Infinity;
  private readonly clock: () => number;
  private readonly sweepIntervalMs: number;

  constructor(o: LeasePoolOptions) {
    const n = ipToInt(o.network);
    const m = ipToInt(o.mask);
    const s = ipToInt(o.poolStart);
    const e = ipToInt(o.poolEnd);
    if (n === null || m === null) throw new ConfigError(`dhcp subnet "${o.network}/${o.mask}": not an address and mask`, 'dhcp.subnet');
    if (s === null || e === null || s > e) throw new ConfigError(`dhcp pool "${o.poolStart}-${o.poolEnd}": not an address range`, 'dhcp.subnet.pool_start');
    if (!inSubnet(s, n, m) || !inSubnet(e, n, m)) {
      throw new ConfigError(`dhcp pool "${o.poolStart}-${o.poolEnd}": outside subnet "${o.network}/${o.mask}"`, 'dhcp.subnet.pool_start');
    }
    this.network = (n & m) >>> 0;
    this.mask = m;
    this.start = s;
    this.end = e;
    this.cursor = s;
    if (o.slice && o.slice.count > 1) {
      this.sliceCursor = s + (o.slice.index % o.slice.count);
      this.sliceStep = o.slice.count;
    }
    this.clock = o.clock ?? Date.now;
    this.sweepIntervalMs = o.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.exclude.add(this.network).add((this.network | ~m) >>> 0);
    for (const x of o.exclude ?? []) {
      const v = ipToInt(x);
      if (v !== null) this.exclude.add(v);
    }
  }

  /** Fills the pool from persisted leases (at start). Offers are not kept across restarts. */
  load(leases: DhcpLease[]): void {
    const sorted = [...leases].sort((a, b) => a.updatedAt - b.updatedAt);
    for (const l of sorted) {
      const ip = ipToInt(l.ip);
      if (ip === null || !this.inSubnet(ip)) continue;
      const lease: DhcpLease = { ...l, state: l.state === 'offered' ? 'released' : l.state };
      const older = this.byIp.get(ip);
      if (older && this.byMac.get(older.mac) === older) this.byMac.delete(older.mac);
      const before = this.byMac.get(lease.mac);
      if (before && this.byIp.get(ipToInt(before.ip)!) === before) this.byIp.delete(ipToInt(before.ip)!);
      this.byIp.set(ip, lease);
      if (lease.state !== 'declined') this.byMac.set(lease.mac, lease);
    }
  }

  /** Returns true when ip (a number) is on the served subnet. */
  inSubnet(ip: number): boolean {
    return inSubnet(ip, this.network, this.mask);
  }

  /** Returns true when ip (a number) is a dynamic pool address. */
  inPool(ip: number): boolean {
    return ip >= this.start && ip <= this.end && !this.exclude.has(ip);
  }

  /** Returns the lease a MAC holds (any state but declined), if any. */
  leaseOf(mac: string): DhcpLease | undefined {
    return this.byMac.get(mac);
  }

  /** Returns the lease recorded for an address, if any. */
  leaseAt(ip: number): DhcpLease | undefined {
    return this.byIp.get(ip);
  }

  /** Returns true when mac may take ip: nobody holds it, mac already does, or the holder's time is up. */
  availableFor(ip: number, mac: string): boolean {
    const l = this.byIp.get(ip);
    if (!l) return true;
    if (l.mac === mac && l.state !== 'declined') return true;
    return leaseIsFree(l, this.clock());
  }

  /**
   * Returns an address for mac from the dynamic pool, or null when the pool is full: its own
   * address, else the one it asks for (option 50), else a never-used one, else a freed one.
   */
  allocate(mac: string, requested: number | null): number | null {
    const own = this.byMac.get(mac);
    if (own) {
      const ip = ipToInt(own.ip)!;
      if (this.inPool(ip) && this.availableFor(ip, mac)) return ip;
    }
    if (requested !== null && this.inPool(requested) && this.availableFor(requested, mac)) return requested;
    while (this.sliceCursor !== null && this.sliceCursor <= this.end) {
      const ip = this.sliceCursor;
      this.sliceCursor += this.sliceStep;
      if (this.inPool(ip) && this.availableFor(ip, mac)) return ip;
    }
    while (this.cursor <= this.end) {
      const ip = this.cursor++;
      if (this.inPool(ip) && this.availableFor(ip, mac)) return ip;
    }
    const freed = this.popFree(mac);
    if (freed !== null) return freed;
    const now = this.clock();
    if (now - this.lastSweep < this.sweepIntervalMs) return null;
    this.lastSweep = now;
    for (const [ip, l] of this.byIp) if (leaseIsFree(l, now)) this.enqueue(ip);
    return this.popFree(mac);
  }

  /** Records that mac holds ip in the given state until expiresAt; returns the lease and any lease it replaced. */
  assign(mac: string, ip: number, state: 'offered' | 'bound', expiresAt: number, hostname: string | null): { lease: DhcpLease; dropped: DhcpLease | null } {
    const now = this.clock();
    let dropped: DhcpLease | null = null;
    const old = this.byMac.get(mac);
    if (old && old.ip !== intToIp(ip)) {
      this.byMac.delete(mac);
      if (old.state === 'bound') dropped = old;
      old.state = 'released';
      old.updatedAt = now;
      this.enqueue(ipToInt(old.ip)!);
    }
    let lease = this.byIp.get(ip);
    if (lease && lease.mac !== mac) {
      if (this.byMac.get(lease.mac) === lease) this.byMac.delete(lease.mac);
      lease = undefined;
    }
    if (!lease) {
      lease = { mac, ip: intToIp(ip), hostname, state, expiresAt, updatedAt: now };
      this.byIp.set(ip, lease);
    } else {
      Object.assign(lease, { hostname: hostname ?? lease.hostname, state, expiresAt, updatedAt: now });
    }
    this.byMac.set(mac, lease);
    return { lease, dropped };
  }

  /** Marks a lease released (RELEASE, or an offer the client turned down); its address goes back to the pool. */
  release(lease: DhcpLease): void {
    lease.state = 'released';
    lease.updatedAt = this.clock();
    lease.expiresAt = lease.updatedAt;
    this.enqueue(ipToInt(lease.ip)!);
  }

  /** Marks a lease declined: the address is quarantined until quarantineUntil (RFC 2131 section 4.3.3). */
  decline(lease: DhcpLease, quarantineUntil: number): void {
    lease.state = 'declined';
    lease.updatedAt = this.clock();
    lease.expiresAt = quarantineUntil;
    if (this.byMac.get(lease.mac) === lease) this.byMac.delete(lease.mac);
  }

  /**
   * Records that another server's client holds ip until `until` (the shared database refused our
   * claim); a client of ours that held it here loses it. The address comes back once that time passes.
   */
  holdForeign(ip: number, until: number): void {
    const l = this.byIp.get(ip);
    if (l && this.byMac.get(l.mac) === l) this.byMac.delete(l.mac);
    this.byIp.set(ip, { mac: FOREIGN_MAC, ip: intToIp(ip), hostname: null, state: 'offered', expiresAt: until, updatedAt: this.clock() });
  }

  /** Returns counts for stats (walks the leases: not for the hot path). */
  counts(): { size: number; offered: number; bound: number; declined: number } {
    const now = this.clock();
    const c = { size: 0, offered: 0, bound: 0, declined: 0 };
    c.size = this.end - this.start + 1;
    for (const x of this.exclude) if (x >= this.start && x <= this.end) c.size--;
    for (const l of this.byIp.values()) if (!leaseIsFree(l, now) && l.state !== 'released') c[l.state]++;
    return c;
  }

  /** Returns every lease (for tests and for stats). */
  all(): DhcpLease[] {
    return [...this.byIp.values()];
  }

  private enqueue(ip: number): void {
    if (!this.inPool(ip) || this.queued.has(ip)) return;
    this.queued.add(ip);
    this.queue.push(ip);
  }

  private popFree(mac: string): number | null {
    while (this.head < this.queue.length) {
      const ip = this.queue[this.head++];
      this.queued.delete(ip);
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.inPool(ip) && this.availableFor(ip, mac)) return ip;
    }
    return null;
  }
}
