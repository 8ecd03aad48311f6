// ipToInt is on every packet's path: it must accept exactly dotted quads of 0-255.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipToInt, intToIp } from '../../server/dhcp/addr.ts';

test('ipToInt reads dotted quads and refuses everything else', () => {
  const good: Array<[string, number]> = [['0.0.0.0', 0], ['255.255.255.255', 4294967295], ['10.232.1.0', 0x0ae80100], ['001.2.3.4', 0x01020304]];
  for (const [ip, n] of good) assert.equal(ipToInt(ip), n, ip);
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.256', '1..2.3', '', 'a.b.c.d', '1.2.3.4 ', '1.2.3.0004', '.1.2.3', '1.2.3.', '-1.2.3.4', '1.2.3.4/24']) {
    assert.equal(ipToInt(bad), null, JSON.stringify(bad));
  }
  for (const n of [0, 1, 0x0a000001, 0xc0a80101, 0xffffffff]) assert.equal(ipToInt(intToIp(n)), n);
});
