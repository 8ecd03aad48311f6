// Shared by the DHCP tests: fixture loading, request builders, a loopback test client and a
// server factory on OS-chosen ports. "Broadcast" replies go to 127.0.0.1, so nothing leaves loopback.
import { readFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { captureLogger } from '../../server/log.ts';
import { decode, encode, BOOTREQUEST, type DhcpPacket } from '../../server/dhcp/packet.ts';
import { DhcpOptions, MsgType, Opt } from '../../server/dhcp/options.ts';
import { parseMac } from '../../server/dhcp/addr.ts';
import { DhcpServer, type DhcpServerOptions } from '../../server/dhcp/server.ts';
import type { DhcpBooter } from '../../server/dhcp/booter.ts';
import type { DhcpLease, LeaseStore } from '../../server/dhcp/leases.ts';

const FIXTURES = new URL('../fixtures/dhcp/', import.meta.url);

/** Returns the bytes of a hex fixture (lines starting with # are comments). */
export function fixture(name: string): Buffer {
  const text = readFileSync(new URL(`${name}.hex`, FIXTURES), 'utf8');
  return Buffer.from(text.split('\n').filter((l) => !l.startsWith('#')).join('').replace(/\s+/g, ''), 'hex');
}

export interface RequestSpec {
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  flags?: number;
  options?: Array<[number, Buffer | string | number[]]>;
}

/** Returns an encoded BOOTREQUEST of the given DHCP type. */
export function request(type: number, spec: RequestSpec): Buffer {
  const options = new DhcpOptions().setU8(Opt.MESSAGE_TYPE, type);
  for (const [code, v] of spec.options ?? []) {
    options.set(code, Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v));
  }
  const chaddr = Buffer.alloc(16);
  parseMac(spec.mac)!.copy(chaddr);
  const p: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: spec.xid ?? 0x1234, secs: 0, flags: spec.flags ?? 0,
    ciaddr: spec.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: spec.giaddr ?? '0.0.0.0',
    chaddr, sname: '', file: '', options,
  };
  return encode(p);
}

/** Returns option 93 bytes for an architecture. */
export const arch = (n: number): number[] => [n >> 8, n & 255];
/** Returns option 60 as a PXE client of that architecture sends it. */
export const pxeVendor = (n: number, prefix = 'PXEClient'): string => `${prefix}:Arch:${String(n).padStart(5, '0')}:UNDI:003016`;
export const UUID_OPT = Buffer.from('00' + '11223344556677889900aabbccddeeff', 'hex');

/**
 * Returns the DISCOVER an EDK2 UEFI firmware sends (PxeBcDhcp4 / HttpBootDhcp4: 53, 57, 55, 97,
 * 94, 93, 60), built from its documented option set since no UEFI firmware runs here.
 */
export function uefiDiscover(mac: string, archType: number, http = false, xid = 0x5eed): Buffer {
  return request(MsgType.DISCOVER, {
    mac, xid, flags: 0x8000,
    options: [
      [Opt.MAX_SIZE, [0x05, 0xc0]],
      [Opt.PARAM_REQUEST, [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]],
      [Opt.CLIENT_UUID, UUID_OPT],
      [Opt.CLIENT_NDI, [1, 3, 16]],
      [Opt.CLIENT_ARCH, arch(archType)],
      [Opt.VENDOR_CLASS, pxeVendor(archType, http ? 'HTTPClient' : 'PXEClient')],
    ],
  });
}

/** A UDP client on loopback that collects decoded replies. */
export class TestClient {
  readonly replies: DhcpPacket[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly sock: Socket) {
    sock.on('message', (msg) => {
      this.replies.push(decode(msg));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Returns a client bound to address:port (port 0: chosen by the OS). */
  static async open(address = '127.0.0.1', port = 0): Promise<TestClient> {
    const sock = createSocket('udp4');
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind(port, address, () => res());
    });
    return new TestClient(sock);
  }

  get port(): number {
    return this.sock.address().port;
  }

  /** Sends bytes to 127.0.0.1:port (or another loopback address). */
  send(buf: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((res, rej) => this.sock.send(buf, port, address, (err) => (err ? rej(err) : res())));
  }

  /** Returns the next reply whose xid matches (waits for it; a safety limit turns a hang into a failure). */
  async next(xid?: number, limitMs = 5000): Promise<DhcpPacket> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const i = this.replies.findIndex((r) => xid === undefined || r.xid === xid);
      if (i >= 0) return this.replies.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no reply with xid ${xid} within ${limitMs} ms`);
      await new Promise<void>((res) => {
        this.waiters.push(res);
        setTimeout(res, 50);
      });
    }
  }

  close(): Promise<void> {
    return new Promise((res) => this.sock.close(() => res()));
  }
}

/** Resolves when pred() holds (polled); rejects after a safety limit naming what was awaited. */
export async function waitFor(pred: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A booter that answers from a fixed table, records onPxe calls, and reserves from a map. */
export function fakeBooter(reservations: Record<string, { ip: string; hostname?: string }> = {}): DhcpBooter & { pxe: string[] } {
  const pxe: string[] = [];
  return {
    pxe,
    async bootFor(c) {
      if (c.isIpxe) return { bootFile: `http://127.0.0.1:8080/boot.ipxe?mac=${c.mac}`, nextServer: '127.0.0.1' };
      if (c.arch === 0x10) return { bootFile: 'http://127.0.0.1:8080/ipxe.efi', vendorClass: 'HTTPClient' };
      if (c.arch === 7 || c.arch === 9) return { bootFile: 'ipxe.efi', nextServer: '127.0.0.1' };
      if (c.arch === 0 || c.arch === null) return { bootFile: 'pxelinux.0', nextServer: '127.0.0.1' };
      return null;
    },
    async reservationFor(mac) {
      return reservations[mac] ?? null;
    },
    onPxe(c) {
      pxe.push(c.mac);
    },
  };
}

/** A LeaseStore in memory keyed by MAC (as the SQLite store is), counting calls. */
export class MemoryLeaseStore implements LeaseStore {
  rows = new Map<string, DhcpLease>();
  saves = 0;
  fail = false;
  async loadLeases(): Promise<DhcpLease[]> {
    return [...this.rows.values()].map((l) => ({ ...l }));
  }
  async saveLeases(leases: DhcpLease[]): Promise<void> {
    this.saves++;
    if (this.fail) throw new Error('disk on fire');
    for (const l of leases) this.rows.set(l.mac, { ...l });
  }
}

export const SUBNET = {
  network: '127.0.0.0', mask: '255.0.0.0', router: '127.0.0.254', dns: ['127.0.0.53'], domain: 'lab.test',
  poolStart: '127.0.10.1', poolEnd: '127.0.10.20', leaseSeconds: 600,
};

export interface Harness {
  server: DhcpServer;
  client: TestClient;
  port: number;
  proxyPort: number | null;
  lines: () => Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 (OS-chosen ports) replying to a fresh test client. */
export async function startServer(opts: Partial<DhcpServerOptions> & { mode: 'proxy' | 'full' }): Promise<Harness> {
  const client = await TestClient.open();
  const { log, lines } = captureLogger('debug');
  const server = new DhcpServer({
    booter: fakeBooter(),
    log,
    serverIp: '127.0.0.1',
    bindAddress: '127.0.0.1',
    broadcastAddress: '127.0.0.1',
    ports: { server: 0, client: client.port, proxy: 0 },
    ...(opts.mode === 'full' ? { subnet: SUBNET } : {}),
    ...opts,
  });
  const bound = await server.listen().catch(async (err: unknown) => {
    await client.close();
    throw err;
  });
  return {
    server, client, port: bound.server, proxyPort: bound.proxy, lines,
    async close() {
      await server.close();
      await client.close();
    },
  };
}

/** Returns log lines for a MAC with a given message. */
export function linesFor(h: Harness, mac: string, msg?: string): Array<Record<string, unknown>> {
  return h.lines().filter((l) => l.mac === mac && (msg === undefined || l.msg === msg));
}
