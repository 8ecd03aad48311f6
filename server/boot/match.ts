// Matches an HTTP request to exactly one system: token in the URL, anaconda's
// X-RHN-Provisioning-MAC-<n> headers, the `mac` query, then the source address.
import type { IncomingHttpHeaders } from 'node:http';
import { ConflictError, NotFoundError } from '../errors.ts';
import { parseMac } from '../profiles/mac.ts';
import type { Store, System } from '../store/types.ts';

export interface MatchInput {
  headers: IncomingHttpHeaders;
  macQuery?: string | null;
  sourceIp?: string | null;
}

/** Returns every MAC anaconda sent in X-RHN-Provisioning-MAC-<n> headers (any n, gaps allowed). */
export function provisioningMacs(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!/^x-rhn-provisioning-mac-\d+$/i.test(name) || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      // Value is "<ifname> <mac>", e.g. "eth0 00:16:3E:84:B5:99".
      const mac = parseMac(v.trim().split(/\s+/).pop() ?? '');
      if (mac && !out.includes(mac)) out.push(mac);
    }
  }
  return out;
}

/** Returns the source address without an IPv4-mapped IPv6 prefix. */
export function plainIp(addr: string | undefined | null): string | null {
  if (!addr) return null;
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/** Returns the one system the request identifies; NotFoundError when none, ConflictError when several. */
export async function matchSystem(store: Store, input: MatchInput): Promise<System> {
  return (await matchRequest(store, input)).system;
}

/** Returns the one system the request identifies and whether a MAC or the source address named it. */
export async function matchRequest(store: Store, input: MatchInput): Promise<{ system: System; by: 'mac' | 'address' }> {
  const headerMacs = provisioningMacs(input.headers);
  if (headerMacs.length > 0) return { system: one(await store.findSystemsByMacs(headerMacs), 'the X-RHN-Provisioning-MAC headers'), by: 'mac' };
  if (input.macQuery) {
    const mac = parseMac(input.macQuery);
    if (!mac) throw new NotFoundError('no system matches this request');
    return { system: one(await store.findSystemsByMacs([mac]), 'the mac parameter'), by: 'mac' };
  }
  const ip = plainIp(input.sourceIp);
  if (ip) {
    const s = await store.findSystemByIp(ip);
    if (s) return { system: s, by: 'address' };
  }
  throw new NotFoundError('no system matches this request');
}

function one(systems: System[], what: string): System {
  if (systems.length === 1) return systems[0]!;
  if (systems.length === 0) throw new NotFoundError('no system matches this request');
  throw new ConflictError(`${what} match ${systems.length} systems; give each NIC to one system only`);
}
