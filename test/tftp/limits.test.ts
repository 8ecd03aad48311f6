import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { OP, encodeError, encodeRequest, parseError } from '../../server/tftp/packet.ts';
import { tftpGet } from './client.ts';
import { idle, randomFile, startServer } from './harness.ts';

const file = randomFile(20_000);

/** A client that requests a file, takes the first packet and then says nothing. */
async function stall(port: number, request = encodeRequest(OP.RRQ, 'f', 'octet')): Promise<{ socket: Socket; replies: Buffer[]; serverPort: number; abort: () => Promise<void> }> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  const first = new Promise<number>((resolve) =>
    socket.on('message', (msg, rinfo) => {
      replies.push(msg);
      resolve(rinfo.port);
    }),
  );
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.send(request, port, '127.0.0.1');
  const serverPort = await first;
  return {
    socket,
    replies,
    serverPort,
    abort: async () => {
      await new Promise((resolve) => socket.send(encodeError(0, 'bye'), serverPort, '127.0.0.1', resolve));
      socket.close();
    },
  };
}

test('over maxTransfersPerClient a request gets an ERROR; after one ends the client is served again', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, maxTransfersPerClient: 2 });
  try {
    const a = await stall(h.port);
    const b = await stall(h.port);
    const refused = await tftpGet({ port: h.port, filename: 'f' });
    assert.deepEqual(refused.error, { code: 0, message: 'too many transfers from 127.0.0.1: limit 2' });
    assert.equal(h.server.stats().requestsRefused, 1);
    await a.abort();
    await new Promise((resolve) => setImmediate(resolve));
    while (h.server.stats().activeTransfers > 1) await new Promise((resolve) => h.server.once('transfer', resolve));
    const ok = await tftpGet({ port: h.port, filename: 'f' });
    assert.ok(ok.data.equals(file));
    await b.abort();
  } finally {
    await h.close();
  }
});

test('over maxTransfers a request gets "server busy"', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, maxTransfers: 1 });
  try {
    const a = await stall(h.port);
    const refused = await tftpGet({ port: h.port, filename: 'f' });
    assert.deepEqual(refused.error, { code: 0, message: 'server busy: 1 transfers in progress' });
    await a.abort();
  } finally {
    await h.close();
  }
});

test('firmware asking tsize then aborting with ERROR 8 is logged at debug and counted as aborted, not failed', async () => {
  const h = await startServer({ files: { f: file } });
  try {
    const r = await tftpGet({ port: h.port, filename: 'f', options: { tsize: 0, blksize: 1468 }, abortAfterOack: true });
    assert.equal(r.oack?.tsize, String(file.length));
    await idle(h.server);
    const s = h.server.stats();
    assert.equal(s.transfersAborted, 1);
    assert.equal(s.transfersFailed, 0);
    assert.ok(h.lines().some((l) => l.level === 20 && String(l.msg).includes('after option negotiation')));
    assert.ok(!h.lines().some((l) => (l.level as number) >= 40), 'nothing at warn or above');
    // ... and then fetches the file for real.
    const again = await tftpGet({ port: h.port, filename: 'f', options: { tsize: 0, blksize: 1468 } });
    assert.ok(again.data.equals(file));
  } finally {
    await h.close();
  }
});

test('a client ERROR in the middle of the data is a failed transfer', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000 });
  try {
    const a = await stall(h.port);
    await a.abort();
    await idle(h.server);
    assert.equal(h.server.stats().transfersFailed, 1);
  } finally {
    await h.close();
  }
});

test('a repeated RRQ from the same port does not start a second transfer', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000 });
  try {
    const rrq = encodeRequest(OP.RRQ, 'f', 'octet');
    const a = await stall(h.port, rrq);
    a.socket.send(rrq, h.port, '127.0.0.1');
    a.socket.send(rrq, h.port, '127.0.0.1');
    const other = await tftpGet({ port: h.port, filename: 'f' }); // proves the repeats were processed
    assert.ok(other.data.equals(file));
    assert.equal(h.server.stats().transfersStarted, 2);
    assert.equal(a.replies.length, 1);
    await a.abort();
  } finally {
    await h.close();
  }
});

test('a transfer whose client vanishes is given up after the retries, with an ERROR', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 10, retries: 2 });
  try {
    const a = await stall(h.port);
    await idle(h.server);
    assert.equal(h.server.stats().transfersFailed, 1);
    assert.equal(h.server.stats().timeouts, 2);
    // the first DATA, two resends, then the ERROR: give the last one time to land
    while (a.replies.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(parseError(a.replies[3]), { code: 0, message: 'timed out' });
    a.socket.close();
  } finally {
    await h.close();
  }
});
