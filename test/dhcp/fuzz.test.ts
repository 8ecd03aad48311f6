import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, DhcpDecodeError } from '../../server/dhcp/packet.ts';
import { clientInfo } from '../../server/dhcp/client-info.ts';
import { MsgType, Opt } from '../../server/dhcp/options.ts';
import { fixture, request, startServer, waitFor } from './helpers.ts';

const SEEDS = ['ipxe-bios-discover', 'ipxe-bios-request', 'dhclient-discover', 'dhclient-request', 'udhcpc-discover', 'udhcpc-request'].map(fixture);
const ROUNDS = 3000;

/** Returns a deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a mutated copy of a real packet: bit flips, truncation, length bytes of 255, overload, growth. */
function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const pick = (n: number) => Math.floor(r() * n);
  switch (pick(6)) {
    case 0:
      for (let i = 0, n = 1 + pick(8); i < n; i++) b[pick(b.length)] ^= 1 << pick(8);
      return b;
    case 1:
      return b.subarray(0, pick(b.length));
    case 2: {
      // Set an option's length byte to 255 (or another large value).
      let i = 240;
      const target = pick(12);
      for (let k = 0; i < b.length && b[i] !== 255 && k < target; k++) i += b[i] === 0 ? 1 : 2 + b[i + 1];
      if (i + 1 < b.length) b[i + 1] = pick(2) ? 255 : 200 + pick(55);
      return b;
    }
    case 3: {
      // Overload with a random value and garbage in file/sname.
      const extra = Buffer.from([Opt.OVERLOAD, 1, pick(5)]);
      for (let i = 44; i < 236; i++) if (r() < 0.1) b[i] = pick(256);
      const end = b.indexOf(255, 240);
      return Buffer.concat([b.subarray(0, end < 0 ? b.length : end), extra, Buffer.from([255])]);
    }
    case 4:
      return Buffer.concat([b, Buffer.alloc(pick(3000), pick(256))]);
    default:
      b[2] = pick(256);
      b[0] = pick(4);
      return b;
  }
}

test('decode only ever throws DhcpDecodeError on mutated real packets, and clientInfo never throws', () => {
  const r = rng(0x5eed);
  let bad = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const buf = mutate(SEEDS[i % SEEDS.length], r);
    try {
      clientInfo(decode(buf));
    } catch (err) {
      assert.ok(err instanceof DhcpDecodeError, `round ${i}: ${(err as Error).stack}`);
      bad++;
    }
  }
  assert.ok(bad > ROUNDS / 10, `mutations should break many packets (broke ${bad})`);
});

test('a server fed thousands of mutated packets keeps serving and still answers a good DISCOVER', async () => {
  const proxy = await startServer({ mode: 'proxy' });
  const full = await startServer({ mode: 'full' });
  try {
    const r = rng(42);
    for (let i = 0; i < ROUNDS; i++) {
      const buf = mutate(SEEDS[i % SEEDS.length], r);
      await Promise.all([proxy.client.send(buf, proxy.port), full.client.send(buf, full.port)]);
      if (i % 100 === 99) await new Promise((res) => setImmediate(res));
    }
    for (const h of [proxy, full]) {
      await waitFor(() => h.server.stats().inFlight === 0, 'in-flight requests to settle');
      const s = h.server.stats();
      assert.ok(s.malformed > 0, 'some packets were dropped as malformed');
      assert.ok(!h.lines().some((l) => l.msg === 'dhcp request failed'), 'no handler threw');
    }
    // A transaction id no mutated packet carried, so late replies to the fuzz cannot be mistaken for this one.
    const good = Buffer.from(fixture('ipxe-bios-discover'));
    const xid = 0x0badf00d;
    good.writeUInt32BE(xid, 4);
    await proxy.client.send(good, proxy.port);
    const reply = await proxy.client.next(xid);
    assert.equal(reply.options.messageType(), MsgType.OFFER);
    assert.equal(reply.file, 'http://127.0.0.1:8080/boot.ipxe?mac=52:54:00:12:34:56');
    assert.equal(reply.yiaddr, '0.0.0.0');
    await full.client.send(request(MsgType.DISCOVER, { mac: '02:00:00:00:09:09', xid: 0xfeed01 }), full.port);
    const offer = await full.client.next(0xfeed01);
    assert.equal(offer.options.messageType(), MsgType.OFFER);
    assert.match(offer.yiaddr, /^127\.0\.10\./);
  } finally {
    await proxy.close();
    await full.close();
  }
});
