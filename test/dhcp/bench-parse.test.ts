// The DHCP figure's arithmetic: perfdhcp's report and its -x t timestamp dump parsed into DORA/s
// and DISCOVER->OFFER percentiles, medians over rounds, and the rotating order of servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePerfdhcp, parseTimers, percentiles } from '../../bench/lib/perfdhcp.ts';
import { median, roundOrder } from '../../bench/figures/dhcp.ts';

const REPORT = `Running: perfdhcp -4 -r 1000 -R 4 -n 4 -p 120 -W 1000000 -x t -l veth 10.232.0.1
***Rate statistics***
Rate: 860.873 4-way exchanges/second, expected rate: 1000
***Statistics for: DISCOVER-OFFER***
sent packets: 4
received packets: 3
drops: 1
avg delay: 2.500 ms
max delay: 4.000 ms

***Statistics for: REQUEST-ACK***
sent packets: 3
received packets: 3
drops: 0
avg delay: 1.000 ms
max delay: 1.500 ms

***Timestamps for packets: DISCOVER-OFFER***
sent / received: 000000.100000 / 000000.101000
sent / received: 000000.101000 / 000000.103500
sent / received: 000000.102000 / 000000.106000

***Timestamps for packets: REQUEST-ACK***
sent / received: 000000.101000 / 000000.190000
`;

test('the report gives DORA/s from ACKs over the sending period and the drop share from DISCOVERs to ACKs', () => {
  const r = parsePerfdhcp(REPORT, 1000);
  assert.equal(r.discover.sent, 4);
  assert.equal(r.request.received, 3);
  assert.equal(r.doraPerSecond, 750);
  assert.equal(r.dropPct, 25);
  assert.equal(r.perfdhcpRate, 860.873);
});

test('the timestamp dump gives one delay per answered DISCOVER, and none of the REQUEST section', () => {
  const d = parseTimers(REPORT, 'DISCOVER-OFFER');
  assert.deepEqual(d.map((x) => Number(x.toFixed(3))), [1, 2.5, 4]);
  assert.deepEqual(parseTimers(REPORT, 'REQUEST-ACK').map((x) => Number(x.toFixed(3))), [89]);
  assert.deepEqual(parseTimers('no dump here', 'DISCOVER-OFFER'), []);
});

test('percentiles are nearest-rank: p99 of 1..100 is 99, of 1..1000 is 990', () => {
  const hundred = percentiles(Array.from({ length: 100 }, (_, i) => 100 - i));
  assert.deepEqual(hundred, { count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
  assert.equal(percentiles(Array.from({ length: 1000 }, (_, i) => i + 1)).p99, 990);
  assert.ok(Number.isNaN(percentiles([]).p99));
});

test('medians over rounds skip rounds with no figure; the order of servers rotates each round', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, NaN, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([NaN])));
  assert.deepEqual([1, 2, 3, 4, 5].map(roundOrder), [
    ['kickstand', 'kickstand-pg', 'kea', 'dnsmasq'],
    ['kickstand-pg', 'kea', 'dnsmasq', 'kickstand'],
    ['kea', 'dnsmasq', 'kickstand', 'kickstand-pg'],
    ['dnsmasq', 'kickstand', 'kickstand-pg', 'kea'],
    ['kickstand', 'kickstand-pg', 'kea', 'dnsmasq'],
  ]);
});
