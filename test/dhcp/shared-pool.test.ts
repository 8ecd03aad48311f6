// Several DHCP servers on one pool and one lease store (as instances on one PostgreSQL): the store
// decides who holds an address, so no address is offered or acknowledged to two clients, and with
// load balancing each client gets exactly one server's answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgType, Opt } from '../../server/dhcp/options.ts';
import { ipBytes } from '../../server/dhcp/addr.ts';
import { LoadBalancer } from '../../server/dhcp/load-balance.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { arch, pxeVendor, request, startServer, waitFor, type Harness } from './helpers.ts';

const shared = { slice: null };

test('two servers on one shared pool never offer or acknowledge one address to two clients', async () => {
  const store = memoryStore();
  const one = await startServer({ mode: 'full', leaseStore: store, sharedPool: shared, serverIp: '127.0.0.1' });
  const two = await startServer({ mode: 'full', leaseStore: store, sharedPool: shared, serverIp: '127.0.0.1' });
  try {
    await one.client.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:0a:01', xid: 1 }), one.port);
    const a = await one.client.next(1);
    await two.client.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:0a:02', xid: 2 }), two.port);
    const b = await two.client.next(2);
    assert.equal(a.yiaddr, '127.0.10.1');
    assert.notEqual(b.yiaddr, a.yiaddr, 'the second server tried the same never-used address, and the store refused it');
    // A third client asks server two for the first client's offered address outright.
    await two.client.send(request(MsgType.REQUEST, { mac: '02:00:00:00:0a:03', xid: 3, options: [[Opt.REQUESTED_IP, ipBytes(a.yiaddr)]] }), two.port);
    const nak = await two.client.next(3);
    assert.equal(nak.options.messageType(), MsgType.NAK);
    // The first client binds its offer on server one; the store holds one row per address, each one MAC.
    await one.client.send(request(MsgType.REQUEST, { mac: '02:00:00:00:0a:01', xid: 4, options: [[Opt.SERVER_ID, [127, 0, 0, 1]], [Opt.REQUESTED_IP, ipBytes(a.yiaddr)]] }), one.port);
    assert.equal((await one.client.next(4)).options.messageType(), MsgType.ACK);
    const rows = await store.loadLeases();
    assert.deepEqual(rows.map((l) => [l.ip, l.mac, l.state]), [[a.yiaddr, '02:00:00:00:0a:01', 'bound'], [b.yiaddr, '02:00:00:00:0a:02', 'offered']]);
  } finally {
    await one.close();
    await two.close();
  }
});

test('with load balancing, the same DISCOVER sent to both servers is answered by exactly one', async () => {
  const store = memoryStore();
  const balancers = [new LoadBalancer(['a', 'b'], 'a', '127.0.0.1'), new LoadBalancer(['a', 'b'], 'b', '127.0.0.1')];
  for (const lb of balancers) lb.hold(false);
  const servers: Harness[] = [];
  for (const [i, lb] of balancers.entries()) {
    servers.push(await startServer({ mode: 'full', leaseStore: store, sharedPool: { slice: { index: i, count: 2 } }, accept: (req, pxe) => lb.accepts(req, pxe) }));
  }
  try {
    const answeredBy: number[] = [];
    for (let i = 0; i < 16; i++) {
      const mac = `02:00:00:00:0b:${i.toString(16).padStart(2, '0')}`;
      for (const s of servers) await s.client.send(request(MsgType.DISCOVER, { mac, xid: 100 + i }), s.port);
      await waitFor(() => servers.reduce((n, s) => n + s.server.stats().received, 0) >= 2 * (i + 1), 'both servers saw it');
      const got = await Promise.all(servers.map((s) => s.client.next(100 + i, 300).then(() => true, () => false)));
      assert.equal(got.filter(Boolean).length, 1, `${mac}: answered by ${got}`);
      answeredBy.push(got.indexOf(true));
    }
    assert.ok(answeredBy.includes(0) && answeredBy.includes(1), 'both servers answer some clients');
    assert.equal(servers[0]!.server.stats().notOurs! + servers[1]!.server.stats().notOurs!, 16);
  } finally {
    for (const s of servers) await s.close();
  }
});

test('ProxyDHCP with load balancing: each PXE client gets one proxy offer, and its port-4011 request is answered by whoever it asks', async () => {
  const balancers = [new LoadBalancer(['a', 'b'], 'a', '127.0.0.1'), new LoadBalancer(['a', 'b'], 'b', '127.0.0.1')];
  for (const lb of balancers) lb.hold(false);
  const servers: Harness[] = [];
  for (const lb of balancers) servers.push(await startServer({ mode: 'proxy', accept: (req, pxe) => lb.accepts(req, pxe) }));
  try {
    for (let i = 0; i < 12; i++) {
      const mac = `02:00:00:00:0c:${i.toString(16).padStart(2, '0')}`;
      const pxe = (type: number) => request(type, { mac, xid: 300 + i, options: [[Opt.VENDOR_CLASS, pxeVendor(0)], [Opt.CLIENT_ARCH, arch(0)]] });
      for (const s of servers) await s.client.send(pxe(MsgType.DISCOVER), s.port);
      const got = await Promise.all(servers.map((s) => s.client.next(300 + i, 300).then(() => true, () => false)));
      assert.equal(got.filter(Boolean).length, 1, `${mac}: offers from ${got}`);
      const other = servers[got.indexOf(false)]!;
      await other.client.send(pxe(MsgType.REQUEST), other.proxyPort!);
      assert.equal((await other.client.next(300 + i)).options.messageType(), MsgType.ACK, 'port 4011 is addressed, not balanced');
    }
  } finally {
    for (const s of servers) await s.close();
  }
});
