// The policy interface the DHCP server calls (the pixiecore split): the protocol code asks what
// to boot and which address is reserved, and knows nothing of systems, profiles or the store.
import type { DhcpClientInfo } from './client-info.ts';

/** What to boot: a TFTP file name or an HTTP URL, the server holding it, and the option 60 to send. */
export interface BootAnswer {
  bootFile: string;
  /** siaddr (and option 66 when asked for): the TFTP server. */
  nextServer?: string;
  /**
   * Option 60 to answer with; defaults to what the client sent ("PXEClient" or "HTTPClient"). null
   * sends none: a plain DHCP offer whose file UEFI PXE boots as it is (offered with "PXEClient" and
   * no boot menu, EDK2 firmware first asks a boot server on port 4011). ProxyDHCP always sends it.
   */
  vendorClass?: 'PXEClient' | 'HTTPClient' | null;
}

/** A fixed address for one MAC. */
export interface Reservation {
  ip: string;
  hostname?: string;
}

/** Decides boot files and reservations for the DHCP server. */
export interface DhcpBooter {
  /** Returns the boot answer for a client, or null to give it none. */
  bootFor(client: DhcpClientInfo): Promise<BootAnswer | null>;
  /** Returns the reserved address of a MAC (full mode), or null. */
  reservationFor(mac: string): Promise<Reservation | null>;
  /** Called after a PXE or iPXE client was answered (feeds the lifecycle's `pxe` event). */
  onPxe?(client: DhcpClientInfo, answer: BootAnswer): void;
}
