import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chance, tftpGet, type LossHook } from './client.ts';
import { idle, randomFile, startServer, type Harness } from './harness.ts';

const file = randomFile(200_000);

/** Returns a hook that fires once for the given block, and counts how often it fired. */
function once(block: number): LossHook & { fired: number } {
  const hook = Object.assign(
    (b: number) => {
      if (b !== block || hook.fired > 0) return false;
      hook.fired++;
      return true;
    },
    { fired: 0 },
  );
  return hook;
}

/** Wraps a hook so it counts how many times it returned true. */
function counted(hook: LossHook): LossHook & { hits: number } {
  const h = Object.assign(
    (b: number, s: number) => {
      const hit = hook(b, s);
      if (hit) h.hits++;
      return hit;
    },
    { hits: 0 },
  );
  return h;
}

describe('tftp under loss', () => {
  // Three servers that differ in retransmission timeout: long where a test counts resends exactly
  // (so a slow machine cannot add any), short where random loss needs many quick recoveries.
  let steady: Harness;
  let lossy: Harness;
  let quick: Harness;
  let h: Harness;
  before(async () => {
    steady = await startServer({ files: { f: file }, timeoutMs: 2000 });
    lossy = await startServer({ files: { f: file }, timeoutMs: 150 });
    quick = await startServer({ files: { f: file }, timeoutMs: 20, retries: 50 });
  });
  after(async () => {
    await Promise.all([steady.close(), lossy.close(), quick.close()]);
  });

  /** Runs a get against server `on`; returns the retransmissions and timer expiries it caused. */
  async function retransmitted(on: Harness, run: () => Promise<void>): Promise<{ n: number; timeouts: number }> {
    h = on;
    await idle(h.server);
    const before = h.server.stats();
    await run();
    await idle(h.server);
    const after = h.server.stats();
    return { n: after.retransmissions - before.retransmissions, timeouts: after.timeouts - before.timeouts };
  }

  test('every ACK sent twice causes no retransmission at all (sorcerer\'s apprentice)', async () => {
    for (const windowsize of [1, 8]) {
      let data: Buffer = Buffer.alloc(0);
      const { n, timeouts } = await retransmitted(steady, async () => {
        const r = await tftpGet({ port: h.port, filename: 'f', options: { windowsize }, duplicateAck: () => true, timeoutMs: 5000 });
        data = r.data;
      });
      assert.ok(data.equals(file));
      assert.equal(n, 0, `windowsize ${windowsize}`);
      assert.equal(timeouts, 0);
    }
  });

  test('every DATA packet arriving twice causes no retransmission', async () => {
    for (const windowsize of [1, 8]) {
      let data: Buffer = Buffer.alloc(0);
      const { n, timeouts } = await retransmitted(steady, async () => {
        data = (await tftpGet({ port: h.port, filename: 'f', options: { windowsize }, duplicateData: () => true, timeoutMs: 5000 })).data;
      });
      assert.ok(data.equals(file));
      assert.equal(n, 0, `windowsize ${windowsize}`);
      assert.equal(timeouts, 0);
    }
  });

  test('a client that acknowledges every block of a window gets each block at most twice', async () => {
    let data: Buffer = Buffer.alloc(0);
    const { n, timeouts } = await retransmitted(steady, async () => {
      data = (await tftpGet({ port: h.port, filename: 'f', options: { windowsize: 8 }, ackEveryBlock: true, timeoutMs: 5000 })).data;
    });
    assert.ok(data.equals(file));
    const blocks = Math.floor(file.length / 512) + 1;
    assert.ok(n < blocks + 8 * timeouts, `retransmissions ${n} for ${blocks} blocks`);
  });

  test('one lost block inside a window resends at most that window, from the lost block', async () => {
    const drop = once(10);
    let data: Buffer = Buffer.alloc(0);
    const { n, timeouts } = await retransmitted(lossy, async () => {
      data = (await tftpGet({ port: h.port, filename: 'f', options: { windowsize: 8 }, dropData: drop, timeoutMs: 5000 })).data;
    });
    assert.equal(drop.fired, 1);
    assert.ok(data.equals(file));
    // The gap ACK rewinds one window; a timeout (only on a stalled machine) adds at most one more.
    assert.ok(n >= 1 && n <= 8 * (1 + timeouts), `retransmissions ${n}, timeouts ${timeouts}`);
  });

  test('one lost ACK resends one window and the transfer goes on', async () => {
    for (const windowsize of [1, 8]) {
      const drop = once(16);
      let data: Buffer = Buffer.alloc(0);
      const { n, timeouts } = await retransmitted(lossy, async () => {
        data = (await tftpGet({ port: h.port, filename: 'f', options: { windowsize }, dropAck: drop, timeoutMs: 5000 })).data;
      });
      assert.equal(drop.fired, 1);
      assert.ok(data.equals(file));
      // Only the server's timer notices a lost ACK: each expiry resends one window, no more.
      assert.ok(timeouts >= 1 && n >= 1 && n <= windowsize * timeouts, `windowsize ${windowsize}: retransmissions ${n}, timeouts ${timeouts}`);
    }
  });

  test('the final ACK lost: the last block is resent and the client re-acknowledges it', async () => {
    const last = Math.floor(file.length / 512) + 1;
    const drop = once(last);
    const r = await tftpGet({ port: quick.port, filename: 'f', dropAck: drop });
    assert.ok(r.data.equals(file));
    // The client is gone after its final ACK; the server retries, then gives up: no crash, no leak.
    await idle(quick.server);
    assert.equal(quick.server.stats().activeTransfers, 0);
  });

  for (const windowsize of [1, 4, 16]) {
    test(`random drops and duplicates both ways (windowsize ${windowsize}) still give identical bytes`, async () => {
      const dropData = counted(chance(0.04, 1 + windowsize));
      const dropAck = counted(chance(0.04, 2 + windowsize));
      let data: Buffer = Buffer.alloc(0);
      const { n, timeouts } = await retransmitted(quick, async () => {
        const r = await tftpGet({
          port: h.port,
          filename: 'f',
          options: { windowsize, blksize: 1024 },
          timeoutMs: 30,
          dropData,
          dropAck,
          duplicateData: chance(0.04, 3 + windowsize),
          duplicateAck: chance(0.04, 4 + windowsize),
        });
        assert.equal(r.error, null);
        data = r.data;
      });
      assert.ok(data.equals(file));
      const losses = dropData.hits + dropAck.hits;
      assert.ok(losses > 0, 'the loss hooks fired');
      // No runaway: each loss or timer expiry costs at most a window or two of resends.
      assert.ok(n <= windowsize * (2 * losses + timeouts), `retransmissions ${n} for ${losses} losses, ${timeouts} timeouts`);
    });
  }
});

test('block numbers roll over past 65535 and the file still arrives intact', async () => {
  const big = randomFile(8 * 66_000 + 3);
  const h = await startServer({ files: { big } });
  try {
    const r = await tftpGet({ port: h.port, filename: 'big', options: { blksize: 8, windowsize: 64 } });
    assert.equal(r.error, null);
    assert.ok(r.data.equals(big));
  } finally {
    await h.close();
  }
});
