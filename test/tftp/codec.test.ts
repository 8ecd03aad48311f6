import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../server/byte-source.ts';
import { netasciiReader, octetReader, toNetascii } from '../../server/tftp/netascii.ts';
import { blksizeForMtu, negotiate } from '../../server/tftp/options.ts';
import { OP, encodeError, encodeOack, encodeRequest, parseAck, parseError, parseRequest } from '../../server/tftp/packet.ts';
import { resolveSettings } from '../../server/tftp/settings.ts';
import { silentLogger } from '../../server/log.ts';
import { ConfigError } from '../../server/errors.ts';

describe('tftp packets', () => {
  test('parseRequest reads filename, lower-cased mode and lower-cased option names', () => {
    const req = parseRequest(encodeRequest(OP.RRQ, 'pxelinux.cfg/01-aa-bb', 'OCTET', { BlkSize: 1468, TSIZE: 0 }));
    assert.deepEqual(req, { opcode: OP.RRQ, filename: 'pxelinux.cfg/01-aa-bb', mode: 'octet', options: { blksize: '1468', tsize: '0' } });
  });

  test('parseRequest keeps the first of a repeated option', () => {
    assert.deepEqual(parseRequest(encodeRequest(OP.RRQ, 'f', 'octet', { blksize: 1000, BLKSIZE: 2000 })).options, { blksize: '1000' });
  });

  test('parseRequest rejects a request whose last field lacks its NUL, naming the problem', () => {
    assert.throws(() => parseRequest(Buffer.from('\0\x01f\0octet', 'latin1')), /not NUL-terminated/);
  });

  test('parseRequest rejects other opcodes', () => {
    assert.throws(() => parseRequest(Buffer.from([0, 3, 0, 1])), /opcode 3 is not RRQ or WRQ/);
  });

  test('parseAck and parseError read their packets and refuse others', () => {
    assert.equal(parseAck(Buffer.from([0, 4, 1, 2])), 258);
    assert.equal(parseAck(Buffer.from([0, 4, 1])), -1);
    assert.equal(parseAck(Buffer.from([0, 3, 1, 2])), -1);
    assert.deepEqual(parseError(encodeError(8, 'no thanks')), { code: 8, message: 'no thanks' });
    assert.deepEqual(parseError(Buffer.from([0, 5, 0, 1, 0x61])), { code: 1, message: 'a' }, 'a missing NUL is tolerated');
    assert.equal(parseError(Buffer.from([0, 4, 0, 1])), null);
  });

  test('encodeOack lays out name NUL value NUL pairs after opcode 6', () => {
    assert.equal(encodeOack([['blksize', '1468'], ['tsize', '5']]).toString('latin1'), '\0\x06blksize\x001468\0tsize\x005\0');
  });
});

describe('tftp option negotiation', () => {
  const limits = { maxBlksize: 1468, maxWindowsize: 64, defaultTimeoutMs: 1000, maxTimeoutS: 10 };

  test('blksizeForMtu leaves room for IP, UDP and TFTP headers', () => {
    assert.equal(blksizeForMtu(1500), 1468);
    assert.equal(blksizeForMtu(1500, 'IPv6'), 1448);
  });

  test('no options: RFC 1350 defaults and an empty OACK', () => {
    assert.deepEqual(negotiate({}, 10, limits), { blksize: 512, windowsize: 1, timeoutMs: 1000, oack: [] });
  });

  test('values within limits are granted and echoed; larger ones are lowered', () => {
    const n = negotiate({ blksize: '9000', tsize: '0', timeout: '5', windowsize: '100' }, 1234, limits);
    assert.deepEqual(n, {
      blksize: 1468,
      windowsize: 64,
      timeoutMs: 5000,
      oack: [['blksize', '1468'], ['tsize', '1234'], ['timeout', '5'], ['windowsize', '64']],
    });
  });

  test('invalid values and unknown options are ignored', () => {
    const n = negotiate({ blksize: '7', timeout: '256', windowsize: '0', tsize: 'x', multicast: '' }, 5, limits);
    assert.deepEqual(n.oack, []);
    assert.equal(n.blksize, 512);
  });

  test('a timeout over the cap is left out of the OACK and the default applies (RFC 2349: echo it exactly or not at all)', () => {
    const n = negotiate({ timeout: '255', blksize: '1468' }, 5, limits);
    assert.deepEqual(n.oack, [['blksize', '1468']]);
    assert.equal(n.timeoutMs, 1000);
    assert.deepEqual(negotiate({ timeout: '10' }, 5, limits).oack, [['timeout', '10']]);
  });

  test('tsize is answered only when the size is known', () => {
    assert.deepEqual(negotiate({ tsize: '0' }, null, limits).oack, []);
  });

  test('server settings clamp maxBlksize to the MTU and reject nonsense, naming the option', () => {
    const s = resolveSettings({ handler: async () => null, log: silentLogger() });
    assert.equal(s.limits.maxBlksize, 1468);
    assert.equal(resolveSettings({ handler: async () => null, log: silentLogger(), mtu: 9000 }).limits.maxBlksize, 8968);
    assert.equal(resolveSettings({ handler: async () => null, log: silentLogger(), maxBlksize: 1024 }).limits.maxBlksize, 1024);
    assert.throws(() => resolveSettings({ handler: async () => null, log: silentLogger(), retries: -1 }), (e: unknown) => e instanceof ConfigError && /retries/.test(e.message));
  });
});

describe('netascii', () => {
  test('toNetascii turns LF into CR LF and CR into CR NUL', () => {
    assert.equal(toNetascii(Buffer.from('a\nb\rc\r\n', 'latin1')).toString('latin1'), 'a\r\nb\r\0c\r\0\r\n');
    const plain = Buffer.from('no line ends');
    assert.equal(toNetascii(plain), plain);
  });

  test('netasciiReader gives exact lengths across its internal chunks', async () => {
    const src = Buffer.from('x\n'.repeat(100_000), 'latin1');
    const read = netasciiReader(bufferSource(src));
    const parts: Buffer[] = [];
    for (;;) {
      const b = await read(7777);
      parts.push(b);
      if (b.length < 7777) break;
      assert.equal(b.length, 7777);
    }
    assert.ok(Buffer.concat(parts).equals(toNetascii(src)));
  });

  test('octetReader stitches short reads from a source', async () => {
    const data = Buffer.from('0123456789');
    const stingy = { size: 10, read: async (off: number, len: number) => data.subarray(off, off + Math.min(len, 3)) };
    const read = octetReader(stingy);
    assert.equal((await read(8)).toString(), '01234567');
    assert.equal((await read(8)).toString(), '89');
  });
});
