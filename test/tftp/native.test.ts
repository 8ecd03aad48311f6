// What holds whichever engine runs the data phase (workers.test.ts runs this file with each):
// the engine asked for is the one that runs, many transfers at once all arrive intact, a client
// flooding its transfer port with junk and bogus ACKs neither crashes nor stalls it. And the
// native addon's own surface: bad arguments are errors, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { ConfigError } from '../../server/errors.ts';
import { captureLogger } from '../../server/log.ts';
import { TftpServer } from '../../server/tftp/index.ts';
import { nativeAddon } from '../../server/tftp/native-engine.ts';
import { OP, encodeAck, encodeRequest } from '../../server/tftp/packet.ts';
import { tftpGet } from './client.ts';
import { TEST_ENGINE, idle, randomFile, startServer } from './harness.ts';

const file = randomFile(300_000);

test('the server runs the engine it was given and says which when it starts listening', async () => {
  const h = await startServer({ files: { f: file } });
  try {
    const line = h.lines().find((l) => l.msg === 'tftp listening');
    assert.equal(line?.engine, TEST_ENGINE);
    const r = await tftpGet({ port: h.port, filename: 'f', options: { blksize: 1468 } });
    assert.ok(r.data.equals(file));
  } finally {
    await h.close();
  }
});

test('an unknown engine is a ConfigError naming tftp.engine', () => {
  const { log } = captureLogger('debug');
  assert.throws(() => new TftpServer({ handler: async () => null, log, engine: 'fast' as never }), (err: unknown) => err instanceof ConfigError && /tftp option engine/.test(err.message));
});

test('40 transfers at once, windowsize 1 and 8 and two block sizes, all arrive byte-identical', async () => {
  const other = randomFile(123_457);
  const h = await startServer({ files: { f: file, g: other }, maxTransfersPerClient: 64 });
  try {
    const runs = Array.from({ length: 40 }, (_, i) =>
      tftpGet({ port: h.port, filename: i % 2 ? 'f' : 'g', options: { blksize: i % 4 < 2 ? 1468 : 512, ...(i % 3 === 0 ? { windowsize: 8 } : {}) } }),
    );
    const got = await Promise.all(runs);
    got.forEach((r, i) => assert.ok(r.error === null && r.data.equals(i % 2 ? file : other), `transfer ${i}`));
    await idle(h.server);
    assert.equal(h.server.stats().transfersCompleted, 40);
  } finally {
    await h.close();
  }
});

test('a client flooding its transfer port with junk, bogus ACKs and stale ACKs still gets the file, and the server serves on', async () => {
  const h = await startServer({ files: { f: file } });
  try {
    const junk = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, OP.ACK]), Buffer.from([0, OP.ACK, 0xff]), Buffer.alloc(2000, 0xff), encodeRequest(OP.RRQ, 'f', 'octet'), Buffer.from([0, OP.ERROR, 0])];
    const r = await tftpGet({
      port: h.port,
      filename: 'f',
      options: { blksize: 512, windowsize: 4 },
      onBlock: (block, socket, server) => {
        if (block % 50 !== 7) return;
        for (const j of junk) socket.send(j, server.port, server.address);
        for (const n of [0, 1, block + 9, (block + 30000) & 0xffff, 65535]) socket.send(encodeAck(n), server.port, server.address);
      },
    });
    // A short ERROR packet mid-transfer is the client's error: the transfer may end on it; either way nothing crashed.
    if (r.error === null) assert.ok(r.data.equals(file));
    const again = await tftpGet({ port: h.port, filename: 'f' });
    assert.ok(again.data.equals(file));
  } finally {
    await h.close();
  }
});

test('an ERROR packet without its message mid-transfer ends the transfer as failed, counted once', async () => {
  const h = await startServer({ files: { f: file } });
  try {
    await tftpGet({
      port: h.port,
      filename: 'f',
      retries: 2,
      timeoutMs: 50,
      onBlock: (block, socket, server) => {
        if (block === 3) socket.send(Buffer.from([0, OP.ERROR, 0, 2]), server.port, server.address);
      },
    }).catch(() => null);
    await idle(h.server);
    assert.equal(h.server.stats().transfersFailed, 1);
  } finally {
    await h.close();
  }
});

test('the native addon throws on bad arguments instead of crashing', { skip: TEST_ENGINE !== 'native' && 'native engine runs only' }, () => {
  const addon = nativeAddon();
  assert.ok(addon, 'native/tftpengine is built');
  assert.throws(() => addon.create([], new Int32Array(12), new Int32Array(1), new Float64Array(6), () => {}), /counters/);
  assert.throws(() => addon.create([new Float64Array(15)], new Int32Array(3), new Int32Array(1), new Float64Array(6), () => {}), /slots/);
  assert.throws(() => addon.create([new Float64Array(4)], new Int32Array(12).fill(9), new Int32Array(1), new Float64Array(6), () => {}), /counters/);
  assert.throws(() => addon.chunk({} as never, 0, 1, 0, new Uint8Array(4), 1, true), /not a tftp engine/);
  const eng = addon.create([new Float64Array(15)], new Int32Array(12), new Int32Array(1), new Float64Array([1, 1000, 1000, 0, 0, 0]), () => {});
  try {
    assert.throws(() => addon.start(eng, 5, 1, '127.0.0.1', '127.0.0.1', 9, 512, 1, 1000, null, -1, 8), /bad arguments/);
    assert.throws(() => addon.start(eng, 0, 1, 'not an address', '127.0.0.1', 9, 512, 1, 1000, null, -1, 8), /getaddrinfo/);
    assert.throws(() => addon.message(eng, 0, 99, 1, '', false), /bad arguments/);
    // Messages for transfers it does not run are ignored.
    addon.message(eng, 0, 4, 12345, 'nobody', false);
    addon.chunk(eng, 0, 12345, 0, new Uint8Array(new SharedArrayBuffer(8)), 1, true);
  } finally {
    addon.close(eng);
  }
});

test('packets from strangers to a transfer socket never reach it (connected socket)', async () => {
  const h = await startServer({ files: { f: file } });
  const stranger = createSocket('udp4');
  await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve));
  stranger.unref();
  try {
    const before = h.server.stats().malformed;
    const r = await tftpGet({
      port: h.port,
      filename: 'f',
      onBlock: (block, _socket, server) => {
        if (block === 2) for (let i = 0; i < 50; i++) stranger.send(encodeAck(block + 1 + i), server.port, server.address);
      },
    });
    assert.ok(r.data.equals(file));
    assert.equal(h.server.stats().malformed, before);
  } finally {
    stranger.close();
    await h.close();
  }
});
