// Busy polling: the loop is kept awake only for a bounded time after a send to a fast client, and
// never for a slow one; transfers stay byte-correct with it on, and the server sleeps afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusyPoller } from '../../server/tftp/busy-poll.ts';
import { tftpGet } from './client.ts';
import { idle, randomFile, startServer } from './harness.ts';

/** Resolves after n event-loop turns (setImmediate). */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('hold() keeps the loop turning until the budget from the last hold has passed, then stops', async () => {
  const clock = { now: 1000 };
  const p = new BusyPoller(0.1, () => clock.now);
  assert.equal(p.active, false);
  p.hold();
  await turns(20);
  assert.equal(p.active, true);
  assert.ok(p.turns >= 15, `turned ${p.turns} times`);
  clock.now += 0.05;
  p.hold(); // a new send moves the deadline
  clock.now += 0.08;
  await turns(5);
  assert.equal(p.active, true, 'still inside the budget of the second hold');
  clock.now += 0.03;
  await turns(3);
  assert.equal(p.active, false);
  const before = p.turns;
  await turns(10);
  assert.equal(p.turns, before, 'no turns once the deadline passed');
});

test('budget 0 never polls; stop() ends polling for good; only clients within the budget are worth it', async () => {
  const off = new BusyPoller(0);
  off.hold();
  await turns(5);
  assert.equal(off.turns, 0);
  assert.equal(off.worthIt(0.001), false);
  const clock = { now: 0 };
  const p = new BusyPoller(0.1, () => clock.now);
  assert.equal(p.worthIt(0.09), true);
  assert.equal(p.worthIt(0.2), false);
  p.hold();
  await turns(3);
  p.stop();
  await turns(3);
  assert.equal(p.active, false);
  p.hold();
  await turns(3);
  assert.equal(p.active, false, 'hold after stop does nothing');
});

test('with busy polling on, transfers at windowsize 1 and 8 are byte-identical, the loop polled, and it sleeps once they end', async () => {
  const file = randomFile(400_000);
  const h = await startServer({ files: { f: file }, busyPollUs: 5000 });
  try {
    for (const windowsize of [1, 8]) {
      const r = await tftpGet({ port: h.port, filename: 'f', options: { blksize: '1468', windowsize: String(windowsize) } });
      assert.ok(r.data.equals(file), `windowsize ${windowsize}`);
    }
    await idle(h.server);
    const during = h.server.stats().busyPollTurns;
    assert.ok(during > 0, 'the loop was kept polling during the transfers');
    await sleep(30);
    const after = h.server.stats().busyPollTurns;
    await sleep(50);
    assert.equal(h.server.stats().busyPollTurns, after, 'no polling while no transfer runs');
  } finally {
    await h.close();
  }
});

test('with busy polling off (busyPollUs 0) the loop is never kept awake', async () => {
  const file = randomFile(100_000);
  const h = await startServer({ files: { f: file }, busyPollUs: 0 });
  try {
    const r = await tftpGet({ port: h.port, filename: 'f', options: { blksize: '1468' } });
    assert.ok(r.data.equals(file));
    assert.equal(h.server.stats().busyPollTurns, 0);
  } finally {
    await h.close();
  }
});

test('busy polling never engages while more transfers run than busyPollMaxTransfers (a cap of 0: not even for one fast client)', async () => {
  const file = randomFile(300_000);
  const h = await startServer({ files: { f: file }, busyPollUs: 5000, busyPollMaxTransfers: 0 });
  try {
    const r = await tftpGet({ port: h.port, filename: 'f', options: { blksize: '1468' } });
    assert.ok(r.data.equals(file));
    assert.equal(h.server.stats().busyPollTurns, 0);
  } finally {
    await h.close();
  }
});

test('a client slower than the budget is never polled for, not even once', async () => {
  const file = randomFile(20 * 1468);
  const h = await startServer({ files: { f: file }, busyPollUs: 2000 });
  try {
    // Every ACK comes 5 ms late: no streak of fast answers, so no poll, not even after the first packet.
    const r = await tftpGet({ port: h.port, filename: 'f', options: { blksize: '1468' }, ackDelayMs: 5 });
    assert.ok(r.data.equals(file));
    assert.equal(h.server.stats().busyPollTurns, 0);
  } finally {
    await h.close();
  }
});
