import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { OP, encodeAck, encodeError, encodeRequest } from '../../server/tftp/packet.ts';
import { probe, tftpGet } from './client.ts';
import { idle, randomFile, startServer, type Harness } from './harness.ts';

const file = randomFile(50_000);

/** RRQ bytes with arbitrary fields, for building broken requests by hand. */
function rrq(...fields: string[]): Buffer {
  return Buffer.concat([Buffer.from([0, OP.RRQ]), Buffer.from(fields.join('\0'), 'latin1')]);
}

const shapes: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  'one byte': Buffer.from([1]),
  'bad opcode': Buffer.from([0, 9, 0x61, 0]),
  'opcode 0': Buffer.from([0, 0]),
  'DATA to the listen port': Buffer.from([0, OP.DATA, 0, 1, 1, 2, 3]),
  'ACK to the listen port': encodeAck(1),
  'ERROR to the listen port': encodeError(0, 'hello'),
  'OACK to the listen port': Buffer.from([0, OP.OACK, 0x61, 0, 0x62, 0]),
  'RRQ opcode only': Buffer.from([0, OP.RRQ]),
  'RRQ filename without NUL': rrq('f'),
  'RRQ mode without NUL': rrq('f', 'octet'),
  'RRQ missing mode': rrq('f', ''),
  'RRQ empty filename': rrq('', 'octet', ''),
  'RRQ option without value': rrq('f', 'octet', 'blksize', ''),
  'RRQ huge option value': rrq('f', 'octet', 'blksize', '1'.repeat(1000), ''),
  'RRQ huge option name': rrq('f', 'octet', 'x'.repeat(300), '1', ''),
  'RRQ too many options': rrq('f', 'octet', ...Array.from({ length: 40 }, (_, i) => [`o${i}`, '1']).flat(), ''),
  'RRQ of 60000 bytes': rrq('f'.repeat(60_000), 'octet', ''),
  'WRQ without NUL': Buffer.from([0, OP.WRQ, 0x66]),
};

describe('tftp malformed packets', () => {
  let h: Harness;
  before(async () => {
    h = await startServer({ files: { f: file } });
  });
  after(() => h.close());

  for (const [name, pkt] of Object.entries(shapes)) {
    test(`${name}: dropped without reply, logged at debug, and the server still serves`, async () => {
      const before = h.server.stats().malformed;
      assert.equal(await probe(h.port, pkt, 100), null);
      const r = await tftpGet({ port: h.port, filename: 'f' });
      assert.ok(r.data.equals(file));
      assert.equal(h.server.stats().malformed, before + 1);
      const dropped = h.lines().filter((l) => typeof l.msg === 'string' && l.msg.includes('dropped'));
      assert.ok(dropped.length > 0 && dropped.every((l) => l.level === 20), 'drop lines are debug');
      const warned = h.lines().filter((l) => typeof l.msg === 'string' && l.msg.includes('receiving malformed requests'));
      assert.ok(warned.length <= 1, 'the warning about malformed requests is rate-limited');
    });
  }

  test('a request padded with trailing NULs is accepted', async () => {
    const socket = createSocket('udp4');
    try {
      const reply = await new Promise<{ msg: Buffer; port: number }>((resolve) => {
        socket.on('message', (msg, rinfo) => resolve({ msg, port: rinfo.port }));
        socket.bind(0, '127.0.0.1', () => socket.send(Buffer.concat([encodeRequest(OP.RRQ, 'f', 'octet', { tsize: 0 }), Buffer.alloc(6)]), h.port, '127.0.0.1'));
      });
      assert.equal(reply.msg.readUInt16BE(0), OP.OACK);
      await new Promise((resolve) => socket.send(encodeError(8, 'enough'), reply.port, '127.0.0.1', resolve));
    } finally {
      socket.close();
    }
    await idle(h.server);
  });

  test('garbage from the client on its transfer port is dropped and the transfer completes', async () => {
    const before = h.server.stats().malformed;
    const junk = [Buffer.alloc(0), Buffer.from([4]), Buffer.from([0, 4, 0]), Buffer.from([0, 9, 0, 1]), Buffer.from([0, OP.DATA, 0, 1, 7]), encodeRequest(OP.RRQ, 'f', 'octet')];
    const r = await tftpGet({
      port: h.port,
      filename: 'f',
      onBlock: (block, socket, server) => {
        if (block === 2) for (const j of junk) socket.send(j, server.port, server.address);
      },
    });
    assert.equal(r.error, null);
    assert.ok(r.data.equals(file));
    await idle(h.server);
    assert.equal(h.server.stats().malformed, before + junk.length);
  });

  test('an ACK for a block never sent is ignored and the transfer completes', async () => {
    const r = await tftpGet({
      port: h.port,
      filename: 'f',
      onBlock: (block, socket, server) => {
        if (block === 1) socket.send(encodeAck(500), server.port, server.address);
      },
    });
    assert.equal(r.error, null);
    assert.ok(r.data.equals(file));
  });

  test('packets from another port never reach a transfer (its socket is connected) and do not disturb it', async () => {
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve));
    const answers: Buffer[] = [];
    stranger.on('message', (msg) => answers.push(msg));
    try {
      await idle(h.server);
      const before = h.server.stats();
      const r = await tftpGet({
        port: h.port,
        filename: 'f',
        options: { blksize: 1024 },
        onBlock: (block, _socket, server) => {
          // ACKs far ahead, an ERROR and garbage from another port: none may touch the transfer.
          if (block === 3) {
            stranger.send(encodeAck(40), server.port, server.address);
            stranger.send(Buffer.from([0]), server.port, server.address);
            stranger.send(encodeError(0, 'go away'), server.port, server.address);
          }
        },
      });
      assert.equal(r.error, null);
      assert.ok(r.data.equals(file));
      await idle(h.server);
      const after = h.server.stats();
      assert.equal(after.malformed, before.malformed, 'the kernel dropped them before the transfer saw them');
      assert.equal(after.transfersCompleted, before.transfersCompleted + 1);
      // Anything sent to the stranger would have arrived well before its own probe comes back.
      assert.equal(await probe(h.port, Buffer.from([0, 9]), 50), null);
      assert.equal(answers.length, 0);
    } finally {
      stranger.close();
    }
  });
});
