// The DHCP side of the simulated machines: one socket on port 68 shared by all of them, each
// machine broadcasting a BIOS PXE DISCOVER (60 PXEClient, 93 = 0, 94, 97) with the broadcast flag,
// then REQUESTing the offer; replies are told apart by xid. Retransmits like a PXE ROM, faster.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { BOOTREQUEST, decode, encode } from '../../server/dhcp/packet.ts';
import { DhcpOptions, MsgType, Opt } from '../../server/dhcp/options.ts';
import { parseMac } from '../../server/dhcp/addr.ts';

/** What a machine got from DHCP. */
export interface Lease {
  ip: string;
  serverId: string;
  nextServer: string;
  bootFile: string;
  /** DHCP messages this machine sent (1 DISCOVER + 1 REQUEST without loss). */
  sent: number;
}

/** Retransmission timeouts: a PXE ROM waits 4, 8, 16, 32 s; the storm uses shorter ones so a loss shows as a slow stage, not a stuck run. */
export const RETRY_MS = [1000, 2000, 4000, 8000];

type Waiter = (p: ReturnType<typeof decode>) => void;

/** A DHCP client for many machines at once. */
export class StormDhcp {
  private readonly socket: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  private readonly waiting = new Map<number, Waiter>();

  /** Binds port 68 and enables broadcast. */
  async open(): Promise<void> {
    this.socket.on('message', (msg) => {
      try {
        const p = decode(msg);
        this.waiting.get(p.xid)?.(p);
      } catch {
        /* not ours */
      }
    });
    await new Promise<void>((r) => this.socket.bind(68, '0.0.0.0', () => r()));
    this.socket.setBroadcast(true);
    this.socket.setRecvBufferSize(4 * 1024 * 1024);
  }

  close(): void {
    this.socket.close();
  }

  private packet(mac: string, uuid: Buffer, type: number, xid: number, extra?: (o: DhcpOptions) => void): Buffer {
    const chaddr = Buffer.alloc(16);
    parseMac(mac)!.copy(chaddr);
    const options = new DhcpOptions()
      .setU8(Opt.MESSAGE_TYPE, type)
      .set(Opt.MAX_SIZE, Buffer.from([0x05, 0xc0]))
      .set(Opt.CLIENT_ARCH, Buffer.from([0, 0]))
      .set(Opt.CLIENT_NDI, Buffer.from([1, 2, 1]))
      .setString(Opt.VENDOR_CLASS, 'PXEClient:Arch:00000:UNDI:002001')
      .set(Opt.PARAM_REQUEST, Buffer.from([1, 3, 6, 43, 54, 60, 66, 67, 97]))
      .set(Opt.CLIENT_UUID, Buffer.concat([Buffer.from([0]), uuid]));
    extra?.(options);
    return encode({ op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options });
  }

  /** Sends pkt and waits for a reply of the wanted type, retransmitting on RETRY_MS. */
  private async exchange(xid: number, pkt: Buffer, want: number, counter: { sent: number }): Promise<ReturnType<typeof decode>> {
    for (const wait of RETRY_MS) {
      const reply = await new Promise<ReturnType<typeof decode> | null>((resolve) => {
        const timer = setTimeout(() => {
          this.waiting.delete(xid);
          resolve(null);
        }, wait);
        this.waiting.set(xid, (p) => {
          if (p.options.messageType() !== want && p.options.messageType() !== MsgType.NAK) return;
          clearTimeout(timer);
          this.waiting.delete(xid);
          resolve(p);
        });
        counter.sent++;
        this.socket.send(pkt, 67, '255.255.255.255');
      });
      if (reply) {
        if (reply.options.messageType() === MsgType.NAK) throw new Error(`dhcp nak: ${reply.options.string(Opt.MESSAGE) ?? ''}`);
        return reply;
      }
    }
    throw new Error(`dhcp: no ${want === MsgType.OFFER ? 'offer' : 'ack'} after ${RETRY_MS.length} tries`);
  }

  /** Runs DISCOVER, OFFER, REQUEST, ACK for one machine. */
  async lease(mac: string, uuid: Buffer): Promise<Lease> {
    const counter = { sent: 0 };
    const xid = randomInt(1, 2 ** 31);
    const offer = await this.exchange(xid, this.packet(mac, uuid, MsgType.DISCOVER, xid), MsgType.OFFER, counter);
    const serverId = offer.options.ip(Opt.SERVER_ID) ?? offer.siaddr;
    const req = this.packet(mac, uuid, MsgType.REQUEST, xid, (o) => o.setIps(Opt.REQUESTED_IP, [offer.yiaddr]).setIps(Opt.SERVER_ID, [serverId]));
    const ack = await this.exchange(xid, req, MsgType.ACK, counter);
    return { ip: ack.yiaddr, serverId, nextServer: ack.siaddr, bootFile: ack.file || ack.options.string(Opt.BOOTFILE) || '', sent: counter.sent };
  }
}
