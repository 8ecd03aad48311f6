// ProxyDHCP (PXE 2.1 section 2.2.5): on a network with its own DHCP server, answer PXE clients
// only, with a boot file and no address. DISCOVERs on port 67 get an OFFER; REQUESTs on port 4011
// (or on 67 naming this server) get an ACK.
import type { DhcpPacket } from './packet.ts';
import { MsgType, Opt, msgTypeName } from './options.ts';
import type { DhcpClientInfo } from './client-info.ts';
import type { DhcpBooter } from './booter.ts';
import { applyBoot, baseReply, silent, type Outcome } from './reply.ts';

export interface ProxyResponderOptions {
  booter: DhcpBooter;
  serverIp: string;
}

/** Answers PXE clients with boot files and nothing else. */
export class ProxyResponder {
  constructor(private readonly o: ProxyResponderOptions) {}

  /** Returns the outcome for one request; `onPxePort` is true for packets that came to port 4011. */
  async handle(req: DhcpPacket, client: DhcpClientInfo, onPxePort: boolean): Promise<Outcome> {
    const type = req.options.messageType();
    let replyType: number;
    if (onPxePort) {
      if (type !== MsgType.REQUEST && type !== MsgType.INFORM) return silent(`proxy: ${msgTypeName(type)} on the pxe port (only requests are answered)`, 'debug');
      replyType = MsgType.ACK;
    } else if (type === MsgType.DISCOVER) {
      replyType = MsgType.OFFER;
    } else if (type === MsgType.REQUEST && req.options.ip(Opt.SERVER_ID) === this.o.serverIp) {
      replyType = MsgType.ACK;
    } else {
      return silent(`proxy: ${msgTypeName(type)} is for the network's dhcp server`, 'debug');
    }
    if (!client.isPxe && !client.isHttpClient) {
      return silent(`proxy: not a pxe client (option 60 ${JSON.stringify(client.vendorClass)})`, 'debug');
    }
    if (client.arch === null) {
      const raw = req.options.get(Opt.CLIENT_ARCH);
      return silent(raw ? `proxy: malformed option 93 (required for pxe) "${raw.toString('hex')}"` : 'proxy: no option 93 (required for pxe)');
    }
    const answer = await this.o.booter.bootFor(client);
    if (!answer) return silent(`proxy: booter has no boot file for arch ${client.arch}`);
    const reply = baseReply(req, replyType, this.o.serverIp);
    if (replyType === MsgType.ACK && onPxePort) reply.ciaddr = req.ciaddr;
    applyBoot(reply, req, client, answer);
    // PXE 2.1: a proxy reply must carry option 60 "PXEClient" even when the booter named none.
    if (!reply.options.has(Opt.VENDOR_CLASS)) reply.options.setString(Opt.VENDOR_CLASS, 'PXEClient');
    if (replyType === MsgType.OFFER) this.o.booter.onPxe?.(client, answer);
    return { kind: 'reply', packet: reply, reason: `proxy boot ${answer.bootFile} for arch ${client.arch}${client.isIpxe ? ' (ipxe)' : ''}` };
  }
}
