import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MsgType, Opt } from '../../server/dhcp/options.ts';
import { ipBytes } from '../../server/dhcp/addr.ts';
import { request, startServer, waitFor, linesFor, fakeBooter, MemoryLeaseStore, TestClient, uefiDiscover, SUBNET, type Harness } from './helpers.ts';

const SERVER = [127, 0, 0, 1];
let xid = 1000;

/** Runs DISCOVER + REQUEST for mac and returns the ACK. */
async function dora(h: Harness, mac: string, extra: Array<[number, Buffer | string | number[]]> = []) {
  const x = ++xid;
  await h.client.send(request(MsgType.DISCOVER, { mac, xid: x, options: extra }), h.port);
  const offer = await h.client.next(x);
  assert.equal(offer.options.messageType(), MsgType.OFFER);
  await h.client.send(request(MsgType.REQUEST, { mac, xid: x, options: [[Opt.SERVER_ID, SERVER], [Opt.REQUESTED_IP, ipBytes(offer.yiaddr)], ...extra] }), h.port);
  const ack = await h.client.next(x);
  return { offer, ack };
}

/** Sends a request and waits for the server to log that it sent nothing for mac. */
async function expectSilence(h: Harness, mac: string, buf: Buffer): Promise<Record<string, unknown>> {
  const before = linesFor(h, mac, 'dhcp no reply').length;
  const replies = h.client.replies.length;
  await h.client.send(buf, h.port);
  await waitFor(() => linesFor(h, mac, 'dhcp no reply').length > before, `no-reply log for ${mac}`);
  assert.equal(h.client.replies.length, replies, 'no reply was sent');
  return linesFor(h, mac, 'dhcp no reply').at(-1)!;
}

describe('full mode', () => {
  let h: Harness;
  const store = new MemoryLeaseStore();
  const booter = fakeBooter({ '02:00:00:00:02:05': { ip: '127.0.5.5', hostname: 'guest5' } });
  before(async () => {
    h = await startServer({ mode: 'full', booter, leaseStore: store });
  });
  after(() => h.close());

  test('DORA gives a pool address with lease times, subnet options and the boot file; the lease is stored before the ACK', async () => {
    const mac = '02:00:00:00:02:01';
    const { offer, ack } = await dora(h, mac);
    assert.equal(offer.yiaddr, '127.0.10.1');
    assert.equal(ack.options.messageType(), MsgType.ACK);
    assert.equal(ack.yiaddr, '127.0.10.1');
    assert.equal(ack.options.u32(Opt.LEASE_TIME), 600);
    assert.equal(ack.options.u32(Opt.RENEWAL_TIME), 300);
    assert.equal(ack.options.u32(Opt.REBINDING_TIME), 525);
    assert.equal(ack.options.ip(Opt.SUBNET_MASK), '255.0.0.0');
    assert.equal(ack.options.ip(Opt.ROUTER), '127.0.0.254');
    assert.equal(ack.options.string(Opt.DOMAIN), 'lab.test');
    assert.equal(ack.options.ip(Opt.SERVER_ID), '127.0.0.1');
    assert.equal(ack.file, 'pxelinux.0');
    assert.equal(ack.siaddr, '127.0.0.1');
    assert.equal(store.rows.get(mac)?.state, 'bound');
    assert.equal(store.rows.get(mac)?.ip, '127.0.10.1');
    assert.ok(linesFor(h, mac, 'dhcp ack').length === 1);
  });

  test('a PXE client in full mode gets an address and its boot file, and feeds the pxe event', async () => {
    const x = ++xid;
    await h.client.send(uefiDiscover('02:00:00:00:02:02', 7, false, x), h.port);
    const offer = await h.client.next(x);
    assert.notEqual(offer.yiaddr, '0.0.0.0');
    assert.equal(offer.file, 'ipxe.efi');
    assert.equal(offer.options.string(Opt.VENDOR_CLASS), 'PXEClient');
  });

  test('a reserved MAC gets its fixed address and host name', async () => {
    const { offer, ack } = await dora(h, '02:00:00:00:02:05');
    assert.equal(offer.yiaddr, '127.0.5.5');
    assert.equal(ack.yiaddr, '127.0.5.5');
    assert.equal(ack.options.string(Opt.HOSTNAME), 'guest5');
  });

  test('a REQUEST for an address off the subnet or held by another client is NAKed', async () => {
    const mac = '02:00:00:00:02:06';
    await h.client.send(request(MsgType.REQUEST, { mac, xid: 2001, options: [[Opt.REQUESTED_IP, [10, 9, 8, 7]]] }), h.port);
    const nak = await h.client.next(2001);
    assert.equal(nak.options.messageType(), MsgType.NAK);
    assert.equal(nak.yiaddr, '0.0.0.0');
    assert.match(nak.options.string(Opt.MESSAGE)!, /not on the served subnet/);
    await h.client.send(request(MsgType.REQUEST, { mac, xid: 2002, options: [[Opt.REQUESTED_IP, [127, 0, 10, 1]]] }), h.port);
    const nak2 = await h.client.next(2002);
    assert.equal(nak2.options.messageType(), MsgType.NAK);
    assert.match(String(linesFor(h, mac, 'dhcp nak').at(-1)!.reason), /held by another client/);
  });

  test('a reserved client asking for another address is NAKed so it comes back for its own', async () => {
    await h.client.send(request(MsgType.REQUEST, { mac: '02:00:00:00:02:05', xid: 2003, options: [[Opt.REQUESTED_IP, [127, 0, 10, 9]]] }), h.port);
    assert.equal((await h.client.next(2003)).options.messageType(), MsgType.NAK);
  });

  test('a renewing client (ciaddr, unicast) gets an ACK sent to its address', async () => {
    const mac = '02:00:00:00:02:07';
    const { ack } = await dora(h, mac);
    const at = await TestClient.open(ack.yiaddr, h.client.port);
    try {
      await at.send(request(MsgType.REQUEST, { mac, xid: 2004, ciaddr: ack.yiaddr }), h.port);
      const renew = await at.next(2004);
      assert.equal(renew.options.messageType(), MsgType.ACK);
      assert.equal(renew.yiaddr, ack.yiaddr);
      assert.equal(renew.ciaddr, ack.yiaddr);
    } finally {
      await at.close();
    }
  });

  test('INFORM gets an ACK without an address or lease time, sent to ciaddr', async () => {
    const at = await TestClient.open('127.0.20.1', h.client.port);
    try {
      await at.send(request(MsgType.INFORM, { mac: '02:00:00:00:02:08', xid: 2005, ciaddr: '127.0.20.1' }), h.port);
      const r = await at.next(2005);
      assert.equal(r.options.messageType(), MsgType.ACK);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.options.has(Opt.LEASE_TIME), false);
      assert.equal(r.options.has(Opt.RENEWAL_TIME), false);
      assert.equal(r.options.ip(Opt.SUBNET_MASK), '255.0.0.0');
    } finally {
      await at.close();
    }
  });

  test('RELEASE marks the lease released in the store and sends nothing', async () => {
    const mac = '02:00:00:00:02:09';
    const { ack } = await dora(h, mac);
    const line = await expectSilence(h, mac, request(MsgType.RELEASE, { mac, xid: 2006, ciaddr: ack.yiaddr, options: [[Opt.SERVER_ID, SERVER]] }));
    assert.equal(line.reason, 'released');
    await waitFor(() => store.rows.get(mac)?.state === 'released', 'released row');
  });

  test('a REQUEST naming another server gets no reply and frees our offer', async () => {
    const mac = '02:00:00:00:02:0a';
    await h.client.send(request(MsgType.DISCOVER, { mac, xid: 2007 }), h.port);
    const offer = await h.client.next(2007);
    const offeredBefore = h.server.stats().leases!.offered;
    const line = await expectSilence(h, mac, request(MsgType.REQUEST, { mac, xid: 2007, options: [[Opt.SERVER_ID, [127, 0, 0, 9]], [Opt.REQUESTED_IP, ipBytes(offer.yiaddr)]] }));
    assert.match(String(line.reason), /names server 127\.0\.0\.9/);
    assert.equal(h.server.stats().leases!.offered, offeredBefore - 1);
    assert.equal(store.rows.has(mac), false);
  });

  test('a relayed DISCOVER is answered to giaddr:67 with option 82 echoed', async () => {
    const relay = await TestClient.open('127.0.0.2', h.port);
    try {
      const agent = Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x30]);
      await relay.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:02:0b', xid: 2008, giaddr: '127.0.0.2', options: [[Opt.RELAY_AGENT, agent]] }), h.port);
      const r = await relay.next(2008);
      assert.equal(r.options.messageType(), MsgType.OFFER);
      assert.equal(r.giaddr, '127.0.0.2');
      assert.deepEqual(r.options.get(Opt.RELAY_AGENT), agent);
    } finally {
      await relay.close();
    }
  });
});

describe('full mode with a small pool and a clock', () => {
  let now = 1_700_000_000_000;
  let h: Harness;
  const store = new MemoryLeaseStore();
  before(async () => {
    h = await startServer({
      mode: 'full', leaseStore: store, clock: () => now, declineQuarantineMs: 60_000, sweepIntervalMs: 0,
      subnet: { ...SUBNET, poolStart: '127.0.10.1', poolEnd: '127.0.10.2' },
    });
  });
  after(() => h.close());

  test('DECLINE quarantines the address: nobody gets it until the quarantine ends', async () => {
    const a = '02:00:00:00:03:01';
    const { ack } = await dora(h, a);
    assert.equal(ack.yiaddr, '127.0.10.1');
    await expectSilence(h, a, request(MsgType.DECLINE, { mac: a, xid: 3001, options: [[Opt.SERVER_ID, SERVER], [Opt.REQUESTED_IP, ipBytes(ack.yiaddr)]] }));
    await waitFor(() => store.rows.get(a)?.state === 'declined', 'declined row');
    const again = await dora(h, a);
    assert.equal(again.ack.yiaddr, '127.0.10.2');
    const b = '02:00:00:00:03:02';
    const line = await expectSilence(h, b, request(MsgType.DISCOVER, { mac: b, xid: 3002 }));
    assert.match(String(line.reason), /pool full/);
    now += 61_000;
    const later = await dora(h, b);
    assert.equal(later.ack.yiaddr, '127.0.10.1');
  });

  test('a full pool means no offer and one log line, however many clients ask', async () => {
    const fullLines = () => h.lines().filter((l) => l.msg === 'dhcp pool full: no offer').length;
    const before = fullLines();
    now += 120_000;
    for (let i = 0; i < 5; i++) {
      const mac = `02:00:00:00:04:0${i}`;
      await h.client.send(request(MsgType.DISCOVER, { mac, xid: 4000 + i }), h.port);
    }
    await waitFor(() => h.server.stats().poolFull >= 6, 'five more pool-full refusals');
    assert.equal(h.client.replies.length, 0);
    assert.equal(fullLines() - before, 1);
  });

  test('an ACK is never sent when the lease cannot be stored', async () => {
    now += 3_600_000;
    store.fail = true;
    try {
      const mac = '02:00:00:00:03:03';
      await h.client.send(request(MsgType.DISCOVER, { mac, xid: 3003 }), h.port);
      const offer = await h.client.next(3003);
      const line = await expectSilence(h, mac, request(MsgType.REQUEST, { mac, xid: 3003, options: [[Opt.SERVER_ID, SERVER], [Opt.REQUESTED_IP, ipBytes(offer.yiaddr)]] }));
      assert.match(String(line.reason), /lease not saved/);
    } finally {
      store.fail = false;
    }
  });
});

describe('restart', () => {
  test('a new server on the same lease store keeps bound leases: the old client gets its address back, a new one another', async () => {
    const store = new MemoryLeaseStore();
    const first = await startServer({ mode: 'full', leaseStore: store });
    let oldIp: string;
    try {
      oldIp = (await dora(first, '02:00:00:00:05:01')).ack.yiaddr;
    } finally {
      await first.close();
    }
    const second = await startServer({ mode: 'full', leaseStore: store });
    try {
      const fresh = await dora(second, '02:00:00:00:05:02');
      assert.notEqual(fresh.ack.yiaddr, oldIp);
      const back = await dora(second, '02:00:00:00:05:01');
      assert.equal(back.ack.yiaddr, oldIp);
      assert.ok(second.lines().some((l) => l.msg === 'dhcp leases loaded' && l.leases === 1));
    } finally {
      await second.close();
    }
  });
});
