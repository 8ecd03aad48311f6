import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../server/byte-source.ts';
import { NotFoundError, BadRequestError } from '../../server/errors.ts';
import { toNetascii } from '../../server/tftp/netascii.ts';
import { OP, encodeRequest, parseError } from '../../server/tftp/packet.ts';
import type { TftpRequest, TransferSummary } from '../../server/tftp/index.ts';
import { probe, tftpGet } from './client.ts';
import { idle, randomFile, startServer, type Harness } from './harness.ts';

const small = randomFile(1000);
const medium = randomFile(300_000);
const exact = randomFile(1468 * 20); // a whole number of blocks: ends with an empty block
const text = Buffer.from('line one\nline two\r\nbare\rcr\n\nend', 'latin1');

describe('tftp server: options and transfers', () => {
  let h: Harness;
  const seen: TftpRequest[] = [];
  before(async () => {
    const files: Record<string, Buffer> = { small, medium, exact, text, empty: Buffer.alloc(0) };
    h = await startServer({
      handler: async (req) => {
        seen.push(req);
        return files[req.filename] ? bufferSource(files[req.filename]) : null;
      },
    });
  });
  after(() => h.close());

  test('plain RRQ without options gets 512-byte blocks and no OACK', async () => {
    const r = await tftpGet({ port: h.port, filename: 'medium' });
    assert.equal(r.error, null);
    assert.equal(r.oack, null);
    assert.ok(r.data.equals(medium));
    assert.equal(r.dataPackets, Math.floor(medium.length / 512) + 1);
  });

  test('handler sees filename, mode, remote and lower-cased options', async () => {
    await tftpGet({ port: h.port, filename: 'small', options: { BlkSize: 1024, 'X-Vendor': 'y' } });
    const req = seen.at(-1)!;
    assert.equal(req.filename, 'small');
    assert.equal(req.mode, 'octet');
    assert.equal(req.remote.address, '127.0.0.1');
    assert.deepEqual(req.options, { blksize: '1024', 'x-vendor': 'y' });
  });

  test('blksize, tsize, timeout and windowsize are answered in the OACK, names case-insensitive', async () => {
    const r = await tftpGet({ port: h.port, filename: 'medium', options: { BLKSIZE: 1024, TSize: 0, timeout: 3, WindowSize: 4 } });
    assert.deepEqual(r.oack, { blksize: '1024', tsize: String(medium.length), timeout: '3', windowsize: '4' });
    assert.ok(r.data.equals(medium));
    assert.equal(r.dataPackets, Math.floor(medium.length / 1024) + 1);
    assert.ok(r.acksSent < r.dataPackets / 2, `windowsize 4 means fewer ACKs than blocks (${r.acksSent})`);
  });

  test('blksize above the MTU is clamped to 1468', async () => {
    const r = await tftpGet({ port: h.port, filename: 'medium', options: { blksize: 65464 } });
    assert.equal(r.oack?.blksize, '1468');
    assert.ok(r.data.equals(medium));
  });

  test('unknown options are ignored: no OACK when none is understood', async () => {
    const r = await tftpGet({ port: h.port, filename: 'small', options: { multicast: '', rollover: 0 } });
    assert.equal(r.oack, null);
    assert.ok(r.data.equals(small));
  });

  test('out-of-range option values are left out of the OACK', async () => {
    const r = await tftpGet({ port: h.port, filename: 'small', options: { blksize: 4, timeout: 0, windowsize: 70000, tsize: 0 } });
    assert.deepEqual(r.oack, { tsize: String(small.length) });
    assert.ok(r.data.equals(small));
  });

  test('a file of whole blocks ends with an empty DATA packet', async () => {
    const r = await tftpGet({ port: h.port, filename: 'exact', options: { blksize: 1468, windowsize: 8 } });
    assert.ok(r.data.equals(exact));
    assert.equal(r.dataPackets, 21);
  });

  test('an empty file is one empty DATA packet, tsize 0', async () => {
    const r = await tftpGet({ port: h.port, filename: 'empty', options: { tsize: 0 } });
    assert.equal(r.oack?.tsize, '0');
    assert.equal(r.data.length, 0);
    assert.equal(r.dataPackets, 1);
  });

  test('netascii turns LF into CR LF and CR into CR NUL, and sends no tsize', async () => {
    const r = await tftpGet({ port: h.port, filename: 'text', mode: 'NetASCII', options: { tsize: 0, blksize: 8 } });
    assert.deepEqual(r.oack, { blksize: '8' });
    assert.ok(r.data.equals(toNetascii(text)));
    assert.equal(r.data.toString('latin1'), 'line one\r\nline two\r\0\r\nbare\r\0cr\r\n\r\nend');
  });

  test('a missing file gets ERROR 1', async () => {
    const r = await tftpGet({ port: h.port, filename: 'nope' });
    assert.deepEqual(r.error, { code: 1, message: 'file not found' });
  });

  test('write requests are refused with ERROR 2', async () => {
    const reply = await probe(h.port, encodeRequest(OP.WRQ, 'upload', 'octet'));
    assert.ok(reply);
    assert.equal(parseError(reply.msg)?.code, 2);
  });

  test('an unsupported mode gets ERROR 4', async () => {
    const reply = await probe(h.port, encodeRequest(OP.RRQ, 'small', 'mail'));
    assert.ok(reply);
    assert.deepEqual(parseError(reply.msg), { code: 4, message: 'unsupported transfer mode "mail"' });
  });

  test('each transfer answers from its own port', async () => {
    const a = await tftpGet({ port: h.port, filename: 'small' });
    const b = await tftpGet({ port: h.port, filename: 'small' });
    assert.notEqual(a.serverPort, h.port);
    assert.notEqual(a.serverPort, b.serverPort);
  });

  test('stats count started, completed and bytes', async () => {
    await idle(h.server);
    const before = h.server.stats();
    await tftpGet({ port: h.port, filename: 'medium', options: { blksize: 1468 } });
    await idle(h.server);
    const s = h.server.stats();
    assert.equal(s.transfersStarted, before.transfersStarted + 1);
    assert.equal(s.transfersCompleted, before.transfersCompleted + 1);
    assert.equal(s.bytesSent - before.bytesSent, medium.length);
    assert.equal(s.activeTransfers, 0);
  });
});

describe('tftp server: handler outcomes', () => {
  test('a KickstandError from the handler becomes an ERROR with its message', async () => {
    const h = await startServer({
      handler: async (req) => {
        if (req.filename === 'gone') throw new NotFoundError(`no system for "gone"`);
        throw new BadRequestError('path "x" leaves its root');
      },
    });
    try {
      assert.deepEqual((await tftpGet({ port: h.port, filename: 'gone' })).error, { code: 1, message: 'no system for "gone"' });
      assert.deepEqual((await tftpGet({ port: h.port, filename: 'x' })).error, { code: 0, message: 'path "x" leaves its root' });
    } finally {
      await h.close();
    }
  });

  test('a handler that throws anything else gets "internal error" and the server keeps serving', async () => {
    let calls = 0;
    const h = await startServer({
      handler: async () => {
        if (calls++ === 0) throw new TypeError('boom');
        return bufferSource(small);
      },
    });
    try {
      assert.deepEqual((await tftpGet({ port: h.port, filename: 'a' })).error, { code: 0, message: 'internal error' });
      assert.ok((await tftpGet({ port: h.port, filename: 'a' })).data.equals(small));
      assert.ok(h.lines().some((l) => l.level === 50 && l.msg === 'tftp handler failed'));
    } finally {
      await h.close();
    }
  });

  test('a handler that never answers times out with an ERROR and frees its slot', async () => {
    const h = await startServer({ handlerTimeoutMs: 30, maxTransfers: 1, handler: () => new Promise(() => {}) });
    try {
      assert.equal((await tftpGet({ port: h.port, filename: 'a' })).error?.code, 0);
      assert.equal((await tftpGet({ port: h.port, filename: 'b' })).error?.code, 0);
      assert.equal(h.server.stats().activeTransfers, 0);
    } finally {
      await h.close();
    }
  });

  test('a read error mid-transfer ends it with an ERROR and the source is closed', async () => {
    let closed = false;
    const h = await startServer({
      readAheadBytes: 4096,
      handler: async () => ({
        size: 100_000,
        read: async (offset: number, length: number) => {
          if (offset >= 8192) throw new Error('disk gone');
          return Buffer.alloc(length, 1);
        },
        close: async () => void (closed = true),
      }),
    });
    try {
      const r = await tftpGet({ port: h.port, filename: 'a' });
      assert.deepEqual(r.error, { code: 0, message: 'read error' });
      await idle(h.server);
      for (let i = 0; i < 100 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(closed);
      assert.equal(h.server.stats().transfersFailed, 1);
    } finally {
      await h.close();
    }
  });

  test('a transfer that completes emits a summary', async () => {
    const h = await startServer({ files: { f: medium } });
    try {
      const ended = new Promise<TransferSummary>((resolve) => h.server.once('transfer', resolve));
      await tftpGet({ port: h.port, filename: 'f', options: { blksize: 1000, windowsize: 2 } });
      const s = await ended;
      assert.equal(s.outcome, 'completed');
      assert.equal(s.filename, 'f');
      assert.equal(s.bytes, medium.length);
      assert.equal(s.blksize, 1000);
      assert.equal(s.windowsize, 2);
    } finally {
      await h.close();
    }
  });

  test('close() ends transfers in progress with an ERROR to the client', async () => {
    const h = await startServer({ files: { f: medium } });
    let closing: Promise<void> | null = null;
    const r = await tftpGet({
      port: h.port,
      filename: 'f',
      onBlock: (block) => {
        if (block === 3) closing = h.close();
      },
    });
    await closing;
    assert.deepEqual(r.error, { code: 0, message: 'server shutting down' });
    assert.equal(await h.server.finished(), null);
  });
});
