import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { OP, encodeAck, encodeError, encodeRequest, parseError } from '../../server/tftp/packet.ts';
import type { TftpRequest, TransferSummary } from '../../server/tftp/index.ts';
import { bufferSource, type ByteSource } from '../../server/byte-source.ts';
import { tftpGet } from './client.ts';
import { idle, randomFile, startServer, TEST_WORKERS, type Harness } from './harness.ts';

const file = randomFile(20_000);

interface Stalled {
  socket: Socket;
  replies: Buffer[];
  serverPort: number;
  abort: () => Promise<void>;
}

/** A client that requests a file, takes the first packet and then says nothing (never answers: it may be spoofed). */
async function stall(port: number, request = encodeRequest(OP.RRQ, 'f', 'octet')): Promise<Stalled> {
  const socket = createSocket('udp4');
  socket.unref(); // a failed assertion before close() must not keep the test file running
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

/** Waits until `check` holds, polling every few milliseconds. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A real client that acknowledges block 1 (so it holds a transfer slot), takes block 2 and then goes quiet. */
async function answerThenStall(port: number): Promise<Stalled> {
  const s = await stall(port);
  s.socket.send(encodeAck(1), s.serverPort, '127.0.0.1');
  await until(() => s.replies.length >= 2);
  await new Promise((resolve) => setTimeout(resolve, 10)); // the server has noted the answer
  return s;
}

/** Acknowledges the last block a stalled client has and every one after it; resolves with the file it put together. */
async function finishTransfer(s: Stalled): Promise<Buffer> {
  const ack = (msg: Buffer) => s.socket.send(encodeAck(msg.readUInt16BE(2)), s.serverPort, '127.0.0.1');
  s.socket.on('message', (msg) => msg.readUInt16BE(0) === OP.DATA && ack(msg));
  ack(s.replies.at(-1)!);
  await until(() => s.replies.some((r) => r.readUInt16BE(0) === OP.DATA && r.length < 516));
  const blocks = new Map(s.replies.filter((r) => r.readUInt16BE(0) === OP.DATA).map((r) => [r.readUInt16BE(2), r.subarray(4)]));
  return Buffer.concat([...blocks.values()]);
}

/** A client whose RRQ for 'f' the server defers (full or behind): resolves once it is counted and 100 ms have passed, with what came back and a way to ask again. */
async function deferredRequest(h: Harness): Promise<{ replies: Buffer[]; again: () => void; close: () => void }> {
  const socket = createSocket('udp4');
  socket.unref();
  const replies: Buffer[] = [];
  socket.on('message', (msg) => replies.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const rrq = encodeRequest(OP.RRQ, 'f', 'octet');
  const again = () => socket.send(rrq, h.port, '127.0.0.1'); // the client's own retransmission
  const before = h.server.stats().deferred;
  again();
  await until(() => h.server.stats().deferred === before + 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { replies, again, close: () => socket.close() };
}

test('over maxTransfersPerClient a request gets an ERROR; after one ends the client is served again', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, maxTransfersPerClient: 2 });
  try {
    const a = await stall(h.port);
    const b = await answerThenStall(h.port);
    const refused = await tftpGet({ port: h.port, filename: 'f' });
    assert.deepEqual(refused.error, { code: 0, message: 'too many transfers from 127.0.0.1: limit 2' });
    assert.equal(h.server.stats().requestsRefused, 1);
    await a.abort();
    await until(() => h.server.stats().activeTransfers === 1);
    const ok = await tftpGet({ port: h.port, filename: 'f' });
    assert.ok(ok.data.equals(file));
    await b.abort();
  } finally {
    await h.close();
  }
});

test('over maxTransfers a new request is dropped without a word, and served when its client asks again after a slot frees', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, maxTransfers: 1 });
  let c: Awaited<ReturnType<typeof deferredRequest>> | null = null;
  try {
    const a = await answerThenStall(h.port);
    c = await deferredRequest(h);
    assert.equal(h.server.stats().deferred, 1);
    assert.equal(c.replies.length, 0, 'no "server busy": a PXE ROM would give up the boot');
    assert.ok(h.lines().some((l) => String(l.msg).includes('tftp.max_transfers')), 'a warning names the setting');
    await a.abort();
    await until(() => h.server.stats().activeTransfers === 0);
    c.again();
    const { replies } = c;
    await until(() => replies.length === 1);
    assert.equal(replies[0]!.readUInt16BE(0), OP.DATA);
  } finally {
    c?.close();
    await h.close();
  }
});

test('a client that answers its first packet while maxTransfers others run keeps its transfer', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, firstAckMs: 10_000, maxTransfers: 1 });
  try {
    const waiting = await stall(h.port); // unanswered: takes no slot
    const b = await answerThenStall(h.port); // takes the one slot
    assert.ok((await finishTransfer(waiting)).equals(file));
    assert.ok(!waiting.replies.some((r) => r.readUInt16BE(0) === OP.ERROR));
    await b.abort();
  } finally {
    await h.close();
  }
});

test('requests that never answer do not take transfer slots: a real client is served beside them', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, firstAckMs: 5000, maxTransfers: 1 });
  try {
    const silent = [await stall(h.port), await stall(h.port), await stall(h.port)];
    const ok = await tftpGet({ port: h.port, filename: 'f' });
    assert.ok(ok.data.equals(file));
    for (const s of silent) s.socket.close();
  } finally {
    await h.close();
  }
});

test('over maxUnanswered the oldest silent request is pushed out, quietly, and a real client still gets through', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, firstAckMs: 5000, maxUnanswered: 3 });
  const ends: TransferSummary[] = [];
  h.server.on('transfer', (s: TransferSummary) => ends.push(s));
  try {
    const silent: Stalled[] = [];
    for (let i = 0; i < 5; i++) silent.push(await stall(h.port));
    await until(() => ends.length === 2);
    // The two oldest, in either order: with transfers on worker threads their ends arrive from two threads.
    const byPort = (a: [string, number], b: [string, number]) => a[1] - b[1];
    assert.deepEqual(
      ends.map((e): [string, number] => [e.outcome, e.remote.port]).sort(byPort),
      [silent[0]!, silent[1]!].map((s): [string, number] => ['unanswered', s.socket.address().port]).sort(byPort),
    );
    assert.equal(h.server.stats().evicted, 2);
    const ok = await tftpGet({ port: h.port, filename: 'f' });
    assert.ok(ok.data.equals(file));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(silent[0]!.replies.length, 1, 'no ERROR to a pushed-out request: it may be spoofed');
    assert.ok(h.lines().filter((l) => String(l.msg).includes('dropping the oldest')).length === 1, 'one rate-limited warning');
    for (const s of silent) s.socket.close();
  } finally {
    await h.close();
  }
});

/** A handler whose requests for 'slow' wait until the test lets each one through, in order. */
function gatedHandler(files: Record<string, Buffer>) {
  const waiting: Array<() => void> = [];
  let calls = 0;
  return {
    waiting,
    calls: () => calls,
    handler: async (req: TftpRequest): Promise<ByteSource | null> => {
      calls++;
      if (req.filename === 'slow') await new Promise<void>((resolve) => waiting.push(resolve));
      const f = files[req.filename === 'slow' ? 'f' : req.filename];
      return f ? bufferSource(f) : null;
    },
  };
}

test('requests still waiting for their file are not "unanswered": newer ones never push them out', async () => {
  // The PostgreSQL storm: pxelinux.cfg menus waiting on the store were evicted from the unanswered
  // pool by newer requests and their clients never heard back.
  const gate = gatedHandler({ f: file });
  const h = await startServer({ handler: gate.handler, timeoutMs: 5000, maxUnanswered: 2 });
  try {
    const gets = Array.from({ length: 4 }, () => tftpGet({ port: h.port, filename: 'slow', timeoutMs: 100, retries: 100 }));
    await until(() => gate.waiting.length === 4);
    // Each client repeats its RRQ while it waits: those are the same request, not new ones.
    await new Promise((resolve) => setTimeout(resolve, 250));
    for (let i = 0; i < 4; i++) {
      gate.waiting[i]!();
      const r = await gets[i]!;
      assert.ok(r.data.equals(file), `client ${i} got the file`);
    }
    await idle(h.server);
    assert.equal(gate.calls(), 4, 'each request found its file once');
    assert.equal(h.server.stats().evicted, 0);
    assert.equal(h.server.stats().transfersCompleted, 4);
  } finally {
    for (const open of gate.waiting) open();
    await h.close();
  }
});

test('over maxPending a new request is dropped without a word, and is served when its client asks again', async () => {
  const gate = gatedHandler({ f: file });
  const h = await startServer({ handler: gate.handler, timeoutMs: 5000, maxPending: 2 });
  let c: Awaited<ReturnType<typeof deferredRequest>> | null = null;
  try {
    const held = [0, 1].map(() => tftpGet({ port: h.port, filename: 'slow', timeoutMs: 100, retries: 100 }));
    await until(() => gate.waiting.length === 2);
    c = await deferredRequest(h);
    assert.equal(h.server.stats().deferred, 1);
    assert.equal(c.replies.length, 0, 'no ERROR: the server is behind, the file is not missing');
    assert.equal(gate.calls(), 2, 'the handler was not asked');
    assert.ok(h.lines().some((l) => String(l.msg).includes('tftp.max_pending')), 'a warning names the setting');
    for (const open of gate.waiting) open();
    for (const r of await Promise.all(held)) assert.ok(r.data.equals(file));
    c.again();
    const { replies } = c;
    await until(() => replies.length === 1);
    assert.equal(replies[0]!.readUInt16BE(0), OP.DATA);
    assert.equal(replies[0]!.readUInt16BE(2), 1);
  } finally {
    for (const open of gate.waiting) open();
    c?.close();
    await h.close();
  }
});

test('a request pushed out just after its client answered keeps its transfer (the answer was on its way)', { timeout: 30_000 }, async () => {
  // Transfers run on another thread. There, a's ACK arrives while this thread is busy finding b's
  // file; b's first packet then pushes a out of the one-place pool before this thread has heard
  // that a answered. The push-out must not end a transfer whose client is there.
  let first: Stalled | null = null;
  const h = await startServer({
    files: { f: file },
    timeoutMs: 5000,
    firstAckMs: 10_000,
    maxUnanswered: 1,
    workers: Math.max(1, TEST_WORKERS),
    handler: async (req) => {
      if (req.filename === 'b' && first) {
        const { socket, serverPort } = first;
        await new Promise<void>((resolve) =>
          socket.send(encodeAck(1), serverPort, '127.0.0.1', () => {
            const until = performance.now() + 300;
            while (performance.now() < until); // busy: the transfer thread takes the ACK meanwhile
            resolve();
          }),
        );
      }
      return bufferSource(file);
    },
  });
  try {
    const a = (first = await stall(h.port));
    const b = await stall(h.port, encodeRequest(OP.RRQ, 'b', 'octet'));
    await until(() => h.server.stats().evicted === 1);
    // a goes on, acknowledging each block.
    assert.ok((await finishTransfer(a)).equals(file), 'a got the whole file');
    assert.ok(!a.replies.some((r) => r.readUInt16BE(0) === OP.ERROR));
    await until(() => h.server.stats().transfersCompleted === 1);
    b.socket.close();
  } finally {
    await h.close();
  }
});

test('an unanswered RRQ costs at most 1 + firstResends small packets, no ERROR, and is given up after firstAckMs', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, firstAckMs: 300, firstResends: 1 });
  try {
    const plain = encodeRequest(OP.RRQ, 'f', 'octet');
    const t0 = performance.now();
    const a = await stall(h.port, plain);
    await idle(h.server);
    const took = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(took >= 250 && took < 1500, `given up after ${took.toFixed(0)} ms`);
    assert.equal(a.replies.length, 2, 'block 1 and one resend');
    assert.ok(a.replies.every((r) => r.readUInt16BE(0) === OP.DATA));
    const out = a.replies.reduce((n, r) => n + r.length, 0);
    assert.ok(out / plain.length <= 2 * 516 / plain.length + 1e-9 && out <= 1032, `${out} bytes out for ${plain.length} in`);
    assert.equal(h.server.stats().unanswered, 1);
    assert.equal(h.server.stats().transfersFailed, 0);
    a.socket.close();
  } finally {
    await h.close();
  }
});

test('the first answer is resent after waits that double, and the silent client is given up when they add up to firstAckMs', async () => {
  // 1 + 2 + 4 parts of 1,050 ms: resends at about 150 and 450 ms, 600 ms after the last one, given up near 1,050 ms.
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, firstAckMs: 1050, firstResends: 2 });
  try {
    const at: number[] = [];
    const t0 = performance.now();
    const a = await stall(h.port, encodeRequest(OP.RRQ, 'f', 'octet', { blksize: 1468 }));
    a.socket.on('message', () => at.push(performance.now() - t0));
    await idle(h.server);
    const took = performance.now() - t0;
    assert.equal(a.replies.length, 3, 'the OACK and two resends');
    assert.ok(a.replies.every((r) => r.readUInt16BE(0) === OP.OACK));
    const [first, second] = at as [number, number];
    assert.ok(first >= 120 && first < 400, `first resend after ${first.toFixed(0)} ms (the wait is 150)`);
    assert.ok(second - first >= 250 && second - first < 600, `second resend ${(second - first).toFixed(0)} ms later (the wait is 300)`);
    assert.ok(took - second >= 500 && took >= 1000 && took < 2500, `given up ${(took - second).toFixed(0)} ms after the last resend, ${took.toFixed(0)} ms in all`);
    assert.equal(h.server.stats().unanswered, 1);
    assert.equal(h.server.stats().retransmissions, 2);
    a.socket.close();
  } finally {
    await h.close();
  }
});

test('an RRQ asking timeout=255 is not granted it: the OACK leaves it out and the silent client is dropped within firstAckMs', async () => {
  const h = await startServer({ files: { f: file }, firstAckMs: 300 });
  try {
    const t0 = performance.now();
    const a = await stall(h.port, encodeRequest(OP.RRQ, 'f', 'octet', { timeout: 255, tsize: 0, blksize: 1468 }));
    await idle(h.server);
    assert.ok(performance.now() - t0 < 2000);
    const oack = a.replies[0]!.subarray(2).toString('latin1');
    assert.equal(a.replies[0]!.readUInt16BE(0), OP.OACK);
    assert.ok(!oack.includes('timeout'), oack);
    assert.ok(a.replies.every((r) => r.readUInt16BE(0) === OP.OACK), 'only OACKs before the client proves itself');
    a.socket.close();
  } finally {
    await h.close();
  }
});

test('a client that repeats its RRQ after losing the first answer gets it again', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 5000, firstAckMs: 10_000, firstResends: 0 });
  try {
    const rrq = encodeRequest(OP.RRQ, 'f', 'octet');
    const a = await stall(h.port, rrq);
    a.socket.send(rrq, h.port, '127.0.0.1'); // at once: ignored (the first answer is on its way)
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.socket.send(rrq, h.port, '127.0.0.1'); // later: the first answer was lost, send it again
    await until(() => a.replies.length === 2);
    assert.ok(a.replies[1]!.equals(a.replies[0]!));
    assert.equal(h.server.stats().transfersStarted, 1);
    a.socket.close();
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
    const a = await answerThenStall(h.port);
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

test('a transfer whose client vanishes after answering is given up after the retries, with an ERROR', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 60, retries: 2 });
  try {
    const a = await answerThenStall(h.port);
    const before = h.server.stats().timeouts;
    await idle(h.server);
    assert.equal(h.server.stats().transfersFailed, 1);
    assert.equal(h.server.stats().timeouts - before, 2, 'two resends of block 2, then it gives up');
    // block 2 twice more, then the ERROR: give the last one time to land
    await until(() => a.replies.some((r) => r.readUInt16BE(0) === OP.ERROR));
    const blocks2 = a.replies.filter((r) => r.readUInt16BE(0) === OP.DATA && r.readUInt16BE(2) === 2).length;
    assert.equal(blocks2, 3);
    assert.deepEqual(parseError(a.replies.at(-1)!), { code: 0, message: 'timed out' });
    a.socket.close();
  } finally {
    await h.close();
  }
});

test('a stalled transfer is given up after maxStallMs however many retries its timeout allows', async () => {
  const h = await startServer({ files: { f: file }, timeoutMs: 20, retries: 100, maxStallMs: 200 });
  try {
    const t0 = performance.now();
    const a = await answerThenStall(h.port);
    await idle(h.server);
    const took = performance.now() - t0;
    assert.ok(took >= 180 && took < 1500, `given up after ${took.toFixed(0)} ms`);
    assert.equal(h.server.stats().transfersFailed, 1);
    await until(() => a.replies.some((r) => parseError(r)?.message === 'timed out'));
    a.socket.close();
  } finally {
    await h.close();
  }
});
