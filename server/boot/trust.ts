// The trust model (README "Security"): what proves that a request comes from the machine it names.
// A MAC proves nothing (anyone can send one), so a request naming a machine by MAC gets that
// machine's own answer only from the machine's address: its fixed `ip`, the address kickstand's
// DHCP leased to one of its MACs, or the address its current run is bound to. A build token proves
// the run; the first fetch of a run's kickstart or script binds the run to the fetching address,
// and from then on its token URLs and step reports count only from there.
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { Store, System, TokenRecord } from '../store/types.ts';

/** `address`: by-MAC requests must come from the machine's address; `any`: a MAC alone identifies a machine. */
export type MatchByMac = 'address' | 'any';

/** The policy, as configured under `security`. */
export interface TrustPolicy {
  matchByMac: MatchByMac;
  /** Bind each run to the address of its first kickstart/script fetch. */
  bindRuns: boolean;
  /** Addresses or CIDRs that may report for any run and fetch token URLs without binding the run. */
  trustedHosts: readonly string[];
  /**
   * Whether kickstand's own DHCP leases name a machine's address: only while it is the DHCP server
   * (full mode). In ProxyDHCP or with DHCP off another server hands out addresses, and a lease
   * kickstand gave before may now belong to another machine.
   */
  leasesNameAddresses: boolean;
}

export const DEFAULT_TRUST_POLICY: TrustPolicy = { matchByMac: 'address', bindRuns: true, trustedHosts: [], leasesNameAddresses: true };

/** Why a request was refused. */
export type RefusalReason =
  /** Names a machine by MAC from an address that is not the machine's. */
  | 'not_its_address'
  /** Asks for a kickstart by MAC, but kickstand knows no address for the machine. */
  | 'no_known_address'
  /** Uses a run's token from another address than the one the run is bound to. */
  | 'run_bound_elsewhere'
  /** Reports a step of a run nothing was fetched for yet, from an address kickstand does not know. */
  | 'run_not_started';

export type Verdict = { ok: true } | { ok: false; reason: RefusalReason; expected: string[] };

/** What a refused request hears: enough to fix a misconfiguration, nothing about the machine it named. */
export const REFUSAL_TEXT: Record<RefusalReason, string> = {
  not_its_address: 'this request names a machine by MAC but does not come from that machine\'s address',
  no_known_address: 'kickstand knows no address for this machine, so its kickstart is served only at the token URL of its boot menu',
  run_bound_elsewhere: 'this install run is bound to another address (the first one that fetched its kickstart or script)',
  run_not_started: 'nothing of this install run was fetched yet and this is not the machine\'s address',
};

const OK: Verdict = { ok: true };

/** Returns an address without an IPv4-mapped IPv6 prefix, lower case; null stays null. */
export function normalizeAddress(addr: string | null | undefined): string | null {
  if (!addr) return null;
  const a = addr.toLowerCase();
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/** Returns a BlockList of the trusted hosts; ConfigError naming the entry when one is not an address or CIDR. */
export function trustedHostList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  entries.forEach((entry, i) => {
    const [addr, prefix] = entry.split('/');
    const family = isIP(addr ?? '');
    const bits = prefix === undefined ? null : Number(prefix);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || (bits !== null && (!Number.isInteger(bits) || bits < 0 || bits > max))) {
      throw new ConfigError(`security.trusted_hosts[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR`, `security.trusted_hosts[${i}]`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === null) list.addAddress(addr!, type);
    else list.addSubnet(addr!, bits, type);
  });
  return list;
}

/** Decides trust questions over the store's systems, tokens and leases. */
export class Trust {
  readonly policy: TrustPolicy;
  private readonly trusted: BlockList;
  private readonly clock: () => number;

  constructor(private readonly o: { store: Pick<Store, 'findLeases'>; policy?: Partial<TrustPolicy>; clock?: () => number }) {
    this.policy = { ...DEFAULT_TRUST_POLICY, ...o.policy };
    this.trusted = trustedHostList(this.policy.trustedHosts);
    this.clock = o.clock ?? Date.now;
  }

  /** Returns true when source is one of the trusted hosts. */
  isTrustedHost(source: string | null): boolean {
    const a = normalizeAddress(source);
    if (!a || this.policy.trustedHosts.length === 0) return false;
    return this.trusted.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  }

  /** Returns the addresses kickstand knows a system at: its fixed ip and (in full mode) the live leases its DHCP gave its MACs. */
  async knownAddresses(s: System): Promise<string[]> {
    const out: string[] = s.ip ? [s.ip] : [];
    if (!this.policy.leasesNameAddresses) return out;
    const now = this.clock();
    for (const l of await this.o.store.findLeases(s.macs)) {
      if (l.state === 'bound' && l.expiresAt > now && !out.includes(l.ip)) out.push(l.ip);
    }
    return out;
  }

  /**
   * Decides whether a request naming armed system s by MAC, from source, gets s's own answer. Once
   * the run is bound only its address does; before, the machine's known addresses do. With none
   * known, a menu still answers (its token then binds the run on first fetch) but a kickstart does not.
   */
  async byMac(s: System, source: string | null, boundIp: string | null, purpose: 'menu' | 'kickstart'): Promise<Verdict> {
    if (this.policy.matchByMac === 'any') return OK;
    const from = normalizeAddress(source);
    if (boundIp) return from === boundIp ? OK : { ok: false, reason: 'run_bound_elsewhere', expected: [boundIp] };
    const known = await this.knownAddresses(s);
    if (known.length === 0) return purpose === 'menu' ? OK : { ok: false, reason: 'no_known_address', expected: [] };
    return from !== null && known.includes(from) ? OK : { ok: false, reason: 'not_its_address', expected: known };
  }

  /** Decides whether a fetch of a token URL from source may go on; true in `bind` when it should bind the run. */
  fetch(tok: TokenRecord, source: string | null): Verdict & { bind: boolean } {
    if (!this.policy.bindRuns || this.isTrustedHost(source)) return { ok: true, bind: false };
    const from = normalizeAddress(source);
    if (tok.boundIp === null) return { ok: true, bind: from !== null };
    return from === tok.boundIp ? { ok: true, bind: false } : { ok: false, reason: 'run_bound_elsewhere', expected: [tok.boundIp], bind: false };
  }

  /**
   * Decides whether a step report for tok's run from source counts: from the run's bound address
   * (`booted` also from the system's known addresses: the installed system may get another one),
   * before binding only from a known address, and always from a trusted host.
   */
  async report(tok: TokenRecord, s: System, stage: string, source: string | null): Promise<Verdict> {
    if (!this.policy.bindRuns || this.isTrustedHost(source)) return OK;
    const from = normalizeAddress(source);
    if (tok.boundIp !== null && from === tok.boundIp) return OK;
    if (tok.boundIp !== null && stage !== 'booted') return { ok: false, reason: 'run_bound_elsewhere', expected: [tok.boundIp] };
    const known = await this.knownAddresses(s);
    if (from !== null && known.includes(from)) return OK;
    return tok.boundIp !== null
      ? { ok: false, reason: 'run_bound_elsewhere', expected: [tok.boundIp, ...known] }
      : { ok: false, reason: 'run_not_started', expected: known };
  }
}
