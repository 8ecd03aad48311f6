import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUCKETS, BucketMap, LoadBalancer, clientBucket, loadBalanceHash } from '../../server/dhcp/load-balance.ts';
import { decode } from '../../server/dhcp/packet.ts';
import { MsgType, Opt } from '../../server/dhcp/options.ts';
import { request } from './helpers.ts';

const mac = (i: number) => `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

test('RFC 3074 hash: the length seeds it, the mixing table is a permutation, one byte maps through the table', () => {
  assert.equal(loadBalanceHash(new Uint8Array([])), 0);
  assert.equal(loadBalanceHash(new Uint8Array([0])), 175, 'MX[1 ^ 0]');
  assert.equal(loadBalanceHash(new Uint8Array([1])), 251, 'MX[1 ^ 1] = MX[0]');
  const seen = new Set<number>();
  for (let b = 0; b < 256; b++) seen.add(loadBalanceHash(new Uint8Array([b ^ 1])));
  assert.equal(seen.size, 256, 'every table entry is distinct');
});

test('clients spread evenly over two servers, by chaddr, and option 61 takes precedence', () => {
  const map = new BucketMap(['a', 'b'], 'a');
  let a = 0;
  for (let i = 0; i < 10_000; i++) if (map.serves(clientBucket(decode(request(MsgType.DISCOVER, { mac: mac(i) })))!)) a++;
  assert.ok(a > 4500 && a < 5500, `a answers ${a} of 10000`);
  const byChaddr = clientBucket(decode(request(MsgType.DISCOVER, { mac: mac(7) })));
  const withId = clientBucket(decode(request(MsgType.DISCOVER, { mac: mac(7), options: [[Opt.CLIENT_ID, [1, 0x52, 0x54, 0, 0, 0, 9]]] })));
  assert.equal(byChaddr, loadBalanceHash(Buffer.from([0x52, 0x54, 0, 0, 0, 7])));
  assert.equal(withId, loadBalanceHash(Buffer.from([1, 0x52, 0x54, 0, 0, 0, 9])));
});

test('a dead peer\'s buckets go to the next live peer and come back when it returns', () => {
  const a = new BucketMap(['a', 'b', 'c'], 'a');
  assert.equal(a.servedCount, 86);
  assert.equal(a.ownerOf(1), 'b');
  assert.equal(a.assign(new Set(['a', 'c'])), 85, 'b\'s buckets change hands');
  assert.equal(a.ownerOf(1), 'c', 'the next live peer after b');
  assert.equal(a.ownerOf(2), 'c');
  assert.equal(a.assign(new Set(['a'])), 85 + 85);
  assert.equal(a.servedCount, BUCKETS);
  a.assign(new Set(['a', 'b', 'c']));
  assert.equal(a.servedCount, 86);
  assert.equal(a.primaryOf(1), 'b');
  a.assign(new Set());
  assert.equal(a.servedCount, 86, 'nobody known alive: everyone keeps its own');
  assert.throws(() => new BucketMap(['a', 'b'], 'z'), /not one of the peers/);
});

test('the filter: port 4011 and messages naming this server always, balanced ones by bucket, none while held', () => {
  const lb = new LoadBalancer(['a', 'b'], 'a', '10.0.0.1');
  const find = (mine: boolean) => {
    for (let i = 0; ; i++) {
      const p = decode(request(MsgType.DISCOVER, { mac: mac(i) }));
      if (lb.buckets.serves(clientBucket(p)!) === mine) return i;
    }
  };
  const ours = decode(request(MsgType.DISCOVER, { mac: mac(find(true)) }));
  const theirs = decode(request(MsgType.DISCOVER, { mac: mac(find(false)) }));
  assert.equal(lb.accepts(ours, false), false, 'held at start');
  lb.hold(false);
  assert.equal(lb.accepts(ours, false), true);
  assert.equal(lb.accepts(theirs, false), false);
  assert.equal(lb.accepts(theirs, true), true, 'port 4011 is addressed to us');
  const named = decode(request(MsgType.REQUEST, { mac: mac(find(false)), options: [[Opt.SERVER_ID, [10, 0, 0, 1]]] }));
  assert.equal(lb.accepts(named, false), true);
  const other = decode(request(MsgType.REQUEST, { mac: mac(find(false)), options: [[Opt.SERVER_ID, [10, 0, 0, 2]]] }));
  assert.equal(lb.accepts(other, false), false);
  lb.buckets.assign(new Set(['a']));
  assert.equal(lb.accepts(theirs, false), true, 'after takeover');
});
