// The DHCP lease row as the store keeps it. The store is below the protocol layer's users and
// imports no protocol module: this is its own shape. boot/dhcp-part.ts hands the store to the DHCP
// server as its lease store and checks there, both ways, that the two shapes still agree.
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
