// What the booter sees of a client: identity and PXE facts read from a request's options
// (RFC 4578 for 93/94/97, RFC 3004 for 77, PXE 2.1 for option 60's "PXEClient" prefix).
import { packetMac, type DhcpPacket } from './packet.ts';
import { Opt, parseClientUuid, parseUserClass } from './options.ts';

/** A requesting client as the booter sees it. */
export interface DhcpClientInfo {
  /** aa:bb:cc:dd:ee:ff, lowercase. */
  mac: string;
  /** Client system architecture (option 93, first entry), or null when absent or malformed. */
  arch: number | null;
  /** Vendor class identifier (option 60). */
  vendorClass: string | null;
  /** User classes (option 77), raw or RFC 3004. */
  userClass: string[];
  /** Option 60 starts with "PXEClient". */
  isPxe: boolean;
  /** Option 60 starts with "HTTPClient" (UEFI HTTP boot). */
  isHttpClient: boolean;
  /** The client already runs iPXE (option 77 "iPXE" or iPXE's option 175 present). */
  isIpxe: boolean;
  /** Machine UUID (option 97). */
  uuid: string | null;
  /** Host name the client sent (option 12). */
  hostname: string | null;
  /** Relay agent address (giaddr), or null when not relayed. */
  relay: string | null;
}

/** Returns the architecture from option 93 (RFC 4578 section 2.1: a list of 16-bit types), or null. */
export function clientArch(p: DhcpPacket): number | null {
  const v = p.options.get(Opt.CLIENT_ARCH);
  if (!v || v.length < 2 || v.length % 2 !== 0) return null;
  return v.readUInt16BE(0);
}

/** Returns the booter's view of a request packet. */
export function clientInfo(p: DhcpPacket): DhcpClientInfo {
  const vendorClass = p.options.string(Opt.VENDOR_CLASS);
  const userClass = parseUserClass(p.options.get(Opt.USER_CLASS));
  return {
    mac: packetMac(p),
    arch: clientArch(p),
    vendorClass,
    userClass,
    isPxe: vendorClass !== null && vendorClass.startsWith('PXEClient'),
    isHttpClient: vendorClass !== null && vendorClass.startsWith('HTTPClient'),
    isIpxe: userClass.includes('iPXE') || p.options.has(Opt.IPXE_ENCAP),
    uuid: parseClientUuid(p.options.get(Opt.CLIENT_UUID)),
    hostname: p.options.string(Opt.HOSTNAME),
    relay: p.giaddr !== '0.0.0.0' ? p.giaddr : null,
  };
}
