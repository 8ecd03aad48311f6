// The DHCP lease row as the store keeps it (the DHCP module's lease shape, owned here so the store
// does not import protocol code).

/** One DHCP lease. */
export interface DhcpLeaseRecord {
  mac: string;
  ip: string;
  hostname: string | null;
  state: 'offered' | 'bound' | 'declined' | 'released';
  expiresAt: number;
  updatedAt: number;
}
