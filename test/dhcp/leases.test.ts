import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LeasePool, type DhcpLease } from '../../server/dhcp/leases.ts';
import { LeaseWriter } from '../../server/dhcp/lease-writer.ts';
import { intToIp, ipToInt } from '../../server/dhcp/addr.ts';
import { ConfigError } from '../../server/errors.ts';
import { MemoryLeaseStore } from './helpers.ts';

const mac = (i: number) => `02:00:${intToIp(i).split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}`;

describe('LeasePool', () => {
  test('hands 50,000 clients distinct addresses from a /16, skipping network, broadcast and excluded ones', () => {
    const pool = new LeasePool({ network: '10.1.0.0', mask: '255.255.0.0', poolStart: '10.1.0.0', poolEnd: '10.1.255.255', exclude: ['10.1.0.1'] });
    const seen = new Set<number>();
    for (let i = 0; i < 50_000; i++) {
      const ip = pool.allocate(mac(i), null);
      assert.ok(ip !== null);
      assert.ok(!seen.has(ip));
      seen.add(ip);
      pool.assign(mac(i), ip, 'bound', Date.now() + 60_000, null);
    }
    for (const x of ['10.1.0.0', '10.1.0.1', '10.1.255.255']) assert.ok(!seen.has(ipToInt(x)!), x);
    assert.equal(pool.counts().bound, 50_000);
  });

  test('gives a client its own address again and honours a free requested address', () => {
    const pool = new LeasePool({ network: '10.2.0.0', mask: '255.255.255.0', poolStart: '10.2.0.10', poolEnd: '10.2.0.20' });
    const a = pool.allocate('aa:00:00:00:00:01', null)!;
    pool.assign('aa:00:00:00:00:01', a, 'bound', Date.now() + 60_000, null);
    assert.equal(pool.allocate('aa:00:00:00:00:01', null), a);
    assert.equal(pool.allocate('aa:00:00:00:00:02', ipToInt('10.2.0.15')), ipToInt('10.2.0.15'));
    assert.notEqual(pool.allocate('aa:00:00:00:00:02', a), a);
  });

  test('reuses expired and released addresses once fresh ones run out, and returns null when none is free', () => {
    let now = 1_000_000;
    const pool = new LeasePool({ network: '10.3.0.0', mask: '255.255.255.0', poolStart: '10.3.0.1', poolEnd: '10.3.0.2', clock: () => now, sweepIntervalMs: 1000 });
    for (const m of ['bb:00:00:00:00:01', 'bb:00:00:00:00:02']) pool.assign(m, pool.allocate(m, null)!, 'bound', now + 5000, null);
    assert.equal(pool.allocate('bb:00:00:00:00:03', null), null);
    now += 6000;
    const reused = pool.allocate('bb:00:00:00:00:03', null);
    assert.ok(reused !== null);
    const formerOwner = pool.leaseAt(reused)!.mac;
    pool.assign('bb:00:00:00:00:03', reused, 'bound', now + 5000, null);
    assert.equal(pool.leaseOf(formerOwner), undefined, 'the expired owner no longer holds the address');
    const other = pool.leaseOf(formerOwner === 'bb:00:00:00:00:01' ? 'bb:00:00:00:00:02' : 'bb:00:00:00:00:01')!;
    pool.release(other);
    assert.equal(pool.allocate('bb:00:00:00:00:04', null), ipToInt(other.ip));
  });

  test('load keeps the newest lease when stale rows name the same address, and turns offers into free addresses', () => {
    const pool = new LeasePool({ network: '10.4.0.0', mask: '255.255.255.0', poolStart: '10.4.0.1', poolEnd: '10.4.0.9' });
    const far = Date.now() + 3_600_000;
    const rows: DhcpLease[] = [
      { mac: 'cc:00:00:00:00:02', ip: '10.4.0.1', hostname: null, state: 'bound', expiresAt: far, updatedAt: 2 },
      { mac: 'cc:00:00:00:00:01', ip: '10.4.0.1', hostname: null, state: 'bound', expiresAt: far, updatedAt: 1 },
      { mac: 'cc:00:00:00:00:03', ip: '10.4.0.2', hostname: null, state: 'offered', expiresAt: far, updatedAt: 3 },
    ];
    pool.load(rows);
    assert.equal(pool.leaseAt(ipToInt('10.4.0.1')!)?.mac, 'cc:00:00:00:00:02');
    assert.equal(pool.leaseOf('cc:00:00:00:00:01'), undefined);
    assert.equal(pool.availableFor(ipToInt('10.4.0.2')!, 'cc:00:00:00:00:09'), true);
  });

  test('a pool outside its subnet is a configuration error', () => {
    assert.throws(() => new LeasePool({ network: '10.5.0.0', mask: '255.255.255.0', poolStart: '10.6.0.1', poolEnd: '10.6.0.9' }), ConfigError);
  });
});

describe('LeaseWriter', () => {
  const lease = (i: number): DhcpLease => ({ mac: mac(i), ip: intToIp(0x0a000000 + i), hostname: null, state: 'bound', expiresAt: 1, updatedAt: 1 });

  test('writes many leases queued in one turn with one saveLeases call, and resolves only after it', async () => {
    const store = new MemoryLeaseStore();
    const writer = new LeaseWriter(store);
    const done = Array.from({ length: 100 }, (_, i) => writer.write(lease(i)));
    assert.equal(store.rows.size, 0);
    await Promise.all(done);
    assert.equal(store.saves, 1);
    assert.equal(store.rows.size, 100);
  });

  test('leases changed while a save runs go into the next save with their latest state', async () => {
    const store = new MemoryLeaseStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const save = store.saveLeases.bind(store);
    store.saveLeases = async (l) => {
      if (store.saves === 0) await gate;
      return save(l);
    };
    const writer = new LeaseWriter(store);
    const first = writer.write(lease(1));
    await new Promise((r) => setImmediate(r));
    const changed = { ...lease(1), state: 'released' as const };
    const second = writer.write(changed);
    release();
    await Promise.all([first, second]);
    assert.equal(store.saves, 2);
    assert.equal(store.rows.get(mac(1))?.state, 'released');
  });

  test('a burst larger than maxBatch is saved in bounded batches, one per turn of the loop, with other work run in between', async () => {
    const store = new MemoryLeaseStore();
    const order: string[] = [];
    const save = store.saveLeases.bind(store);
    store.saveLeases = async (l) => {
      order.push(`save ${l.length}`);
      // What a request arriving during this commit would do: run on the next turn of the loop.
      setImmediate(() => order.push('io'));
      return save(l);
    };
    const writer = new LeaseWriter(store, { maxBatch: 10 });
    const done = Array.from({ length: 35 }, (_, i) => writer.write(lease(i)));
    assert.equal(writer.pending(), 35);
    await Promise.all(done);
    assert.deepEqual(order.filter((o) => o.startsWith('save')), ['save 10', 'save 10', 'save 10', 'save 5']);
    // Between two saves, the work queued during the first one ran.
    for (let i = 0; i < order.length - 1; i++) if (order[i]!.startsWith('save')) assert.equal(order[i + 1], 'io', order.join(', '));
    assert.equal(store.rows.size, 35);
    assert.equal(writer.pending(), 0);
  });

  test('a newer state of a MAC still queued replaces the older one in its batch: one row, latest state, one save', async () => {
    const store = new MemoryLeaseStore();
    const writer = new LeaseWriter(store, { maxBatch: 2 });
    const a = writer.write(lease(1));
    writer.write(lease(2));
    writer.write(lease(3));
    const b = writer.write({ ...lease(1), state: 'released' });
    assert.equal(writer.pending(), 3);
    await Promise.all([a, b, writer.drain()]);
    assert.equal(store.saves, 2);
    assert.equal(store.rows.get(mac(1))?.state, 'released');
  });

  test('a failed save rejects the writes it carried', async () => {
    const store = new MemoryLeaseStore();
    store.fail = true;
    await assert.rejects(new LeaseWriter(store).write(lease(2)), /disk on fire/);
  });
});

describe('LeasePool shared with other servers', () => {
  test('each server tries its own slice of never-used addresses first, then the rest', () => {
    const a = new LeasePool({ network: '10.7.0.0', mask: '255.255.255.0', poolStart: '10.7.0.10', poolEnd: '10.7.0.15', slice: { index: 0, count: 2 } });
    const b = new LeasePool({ network: '10.7.0.0', mask: '255.255.255.0', poolStart: '10.7.0.10', poolEnd: '10.7.0.15', slice: { index: 1, count: 2 } });
    const take = (pool: LeasePool, m: string) => {
      const ip = pool.allocate(m, null)!;
      pool.assign(m, ip, 'bound', Date.now() + 60_000, null);
      return intToIp(ip);
    };
    assert.deepEqual([1, 2, 3].map((i) => take(a, mac(100 + i))), ['10.7.0.10', '10.7.0.12', '10.7.0.14']);
    assert.deepEqual([1, 2, 3].map((i) => take(b, mac(200 + i))), ['10.7.0.11', '10.7.0.13', '10.7.0.15']);
    assert.equal(take(a, mac(104)), '10.7.0.11', 'then the rest (the database refuses what the other holds)');
  });

  test('an address another server holds is skipped until its hold ends, and a client of ours holding it here loses it', () => {
    let now = 1000;
    const pool = new LeasePool({ network: '10.8.0.0', mask: '255.255.255.0', poolStart: '10.8.0.1', poolEnd: '10.8.0.2', clock: () => now, sweepIntervalMs: 0 });
    const first = pool.allocate(mac(1), null)!;
    pool.assign(mac(1), first, 'offered', now + 30_000, null);
    pool.holdForeign(first, now + 5000);
    assert.equal(pool.leaseOf(mac(1)), undefined);
    assert.equal(pool.availableFor(first, mac(1)), false);
    const second = pool.allocate(mac(1), null)!;
    assert.notEqual(second, first);
    pool.assign(mac(1), second, 'bound', now + 60_000, null);
    assert.equal(pool.allocate(mac(2), null), null, 'full while the hold lasts');
    now += 5000;
    assert.equal(pool.allocate(mac(2), null), first);
  });
});
