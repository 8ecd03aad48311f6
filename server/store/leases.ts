// The DHCP lease row as the store keeps it. The store is below the protocol layer's users and
// imports no protocol module: this is its own shape. boot/dhcp-part.ts hands the store to the DHCP
// server as its lease store and checks there, both ways, that the two shapes still agree.
// Also the one rule every store applies when a lease is claimed, so stores cannot drift apart.
export interface DhcpLeaseRecord {
  /** aa:bb:cc:dd:ee:ff, lowercase. */
  mac: string;
  ip: string;
  hostname: string | null;
  state: 'offered' | 'bound' | 'declined' | 'released';
  /** Epoch ms: end of the lease, of the offer hold, or of a decline quarantine. */
  expiresAt: number;
  updatedAt: number;
}

/** Returns true when a lease row no longer holds its address at now (released or expired). */
export function leaseRowFree(row: Pick<DhcpLeaseRecord, 'state' | 'expiresAt'>, now: number): boolean {
  return row.state === 'released' || row.expiresAt <= now;
}

/**
 * Returns whether a lease may be written over the row now at its address: offers and bindings need
 * a free address or the client's own (not a quarantined decline); releases and declines need the
 * client's own row. No row: always.
 */
export function leaseWriteAllowed(row: DhcpLeaseRecord | undefined, lease: DhcpLeaseRecord, now: number): boolean {
  if (!row) return true;
  if (lease.state === 'released' || lease.state === 'declined') return row.mac === lease.mac;
  if (row.mac === lease.mac) return row.state !== 'declined' || row.expiresAt <= now;
  return leaseRowFree(row, now);
}
