// The DHCP lease row as the store keeps it: the DHCP module's lease shape, so the two can never
// drift apart (the store may import protocol types; protocol modules import nothing of the store).
export type { DhcpLease as DhcpLeaseRecord } from '../dhcp/leases.ts';
