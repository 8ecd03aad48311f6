// The DHCP lease row as the store keeps it: the DHCP module's lease shape, so the two can never
// drift apart (the store may import protocol types; protocol modules import nothing of the store).
// Also the one rule every store applies when a lease is claimed, so they cannot drift either.
import type { DhcpLease } from '../dhcp/leases.ts';

export type { DhcpLease as DhcpLeaseRecord } from '../dhcp/leases.ts';

/** Returns true when a lease row no longer holds its address at now (released or expired). */
export function leaseRowFree(row: Pick<DhcpLease, 'state' | 'expiresAt'>, now: number): boolean {
  return row.state === 'released' || row.expiresAt <= now;
}

/**
 * Returns whether a lease may be written over the row now at its address: offers and bindings need
 * a free address or the client's own (not a quarantined decline); releases and declines need the
 * client's own row. No row: always.
 */
export function leaseWriteAllowed(row: DhcpLease | undefined, lease: DhcpLease, now: number): boolean {
  if (!row) return true;
  if (lease.state === 'released' || lease.state === 'declined') return row.mac === lease.mac;
  if (row.mac === lease.mac) return row.state !== 'declined' || row.expiresAt <= now;
  return leaseRowFree(row, now);
}
