// Pieces every reply shares: the header copied from the request (RFC 2131 table 3), the boot
// answer written into fields and options, and where the reply goes (RFC 2131 section 4.1).
import { BOOTREPLY, type DhcpPacket } from './packet.ts';
import { DhcpOptions, MsgType, Opt } from './options.ts';
import type { BootAnswer } from './booter.ts';
import type { DhcpClientInfo } from './client-info.ts';

/** PXE 2.1 vendor options (option 43): sub-option 6, discovery control = 8 (boot straight from the file name). */
export const PXE_VENDOR_BIOS = Buffer.from([6, 1, 8, 255]);

/** Returns a reply of the given type to req, from serverIp (option 54), with the request's identity copied. */
export function baseReply(req: DhcpPacket, type: number, serverIp: string): DhcpPacket {
  const options = new DhcpOptions().setU8(Opt.MESSAGE_TYPE, type).setIps(Opt.SERVER_ID, [serverIp]);
  const relayInfo = req.options.get(Opt.RELAY_AGENT);
  // RFC 3046 section 2.2: echo the relay agent information option in replies.
  if (relayInfo) options.set(Opt.RELAY_AGENT, relayInfo);
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: type === MsgType.NAK && req.giaddr !== '0.0.0.0' ? req.flags | 0x8000 : req.flags,
    ciaddr: type === MsgType.ACK ? req.ciaddr : '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: '',
    file: '',
    options,
  };
}

/** Writes a boot answer into a reply: siaddr, file (or option 67 when too long), 60, 97 echo, 43 for BIOS PXE. */
export function applyBoot(reply: DhcpPacket, req: DhcpPacket, client: DhcpClientInfo, answer: BootAnswer): void {
  const asked = req.options.get(Opt.PARAM_REQUEST) ?? Buffer.alloc(0);
  if (answer.nextServer) {
    reply.siaddr = answer.nextServer;
    if (asked.includes(Opt.TFTP_SERVER)) reply.options.setString(Opt.TFTP_SERVER, answer.nextServer);
  }
  const fits = Buffer.byteLength(answer.bootFile, 'latin1') <= 127;
  if (fits) reply.file = answer.bootFile;
  if (!fits || asked.includes(Opt.BOOTFILE)) reply.options.setString(Opt.BOOTFILE, answer.bootFile);
  const vendor = answer.vendorClass === null ? null : (answer.vendorClass ?? (client.isPxe ? 'PXEClient' : client.isHttpClient ? 'HTTPClient' : null));
  if (vendor) reply.options.setString(Opt.VENDOR_CLASS, vendor);
  const uuid = req.options.get(Opt.CLIENT_UUID);
  if (uuid && (client.isPxe || client.isHttpClient)) reply.options.set(Opt.CLIENT_UUID, uuid);
  if (vendor === 'PXEClient' && client.arch === 0) reply.options.set(Opt.VENDOR_SPECIFIC, PXE_VENDOR_BIOS);
}

export interface ReplyPorts {
  /** Port of servers and relay agents (67). */
  server: number;
  /** Port of clients (68). */
  client: number;
}

/**
 * Returns where a reply goes (RFC 2131 section 4.1): the relay at giaddr:67; a NAK otherwise to
 * broadcast; a client that has an address (ciaddr) by unicast; anyone else by broadcast, since
 * unicast to an address the client does not have yet needs an ARP entry we cannot write.
 */
export function replyDestination(req: DhcpPacket, reply: DhcpPacket, ports: ReplyPorts, broadcastAddress: string): { address: string; port: number } {
  if (req.giaddr !== '0.0.0.0') return { address: req.giaddr, port: ports.server };
  const type = reply.options.messageType();
  if (type !== MsgType.NAK && req.ciaddr !== '0.0.0.0') return { address: req.ciaddr, port: ports.client };
  return { address: broadcastAddress, port: ports.client };
}

/** What a mode handler decided for one request; the serve loop sends, logs and counts it. */
export type Outcome =
  | { kind: 'reply'; packet: DhcpPacket; reason: string; ip?: string }
  | { kind: 'silent'; reason: string; level: 'debug' | 'info' | 'warn'; ip?: string; poolFull?: boolean };

/** Returns a "no reply" outcome. */
export function silent(reason: string, level: 'debug' | 'info' | 'warn' = 'info', extra: { ip?: string; poolFull?: boolean } = {}): Outcome {
  return { kind: 'silent', reason, level, ...extra };
}
