import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhcpPeers } from '../../server/boot/dhcp-peers.ts';
import { LoadBalancer } from '../../server/dhcp/load-balance.ts';
import { captureLogger } from '../../server/log.ts';
import type { InstanceBeat } from '../../server/store/types.ts';

/** Peers a and b; the test sets b's heartbeat age and whether the database answers. */
function setup() {
  const clock = { now: 0 };
  const db = { bAge: 0 as number | null, down: false };
  const balancer = new LoadBalancer(['a', 'b'], 'a', '10.0.0.1');
  const changes: number[] = [];
  const peers = new DhcpPeers({
    heartbeat: async (name): Promise<InstanceBeat[]> => {
      if (db.down) throw new Error('store unavailable');
      return [{ name, ageMs: 0 }, ...(db.bAge === null ? [] : [{ name: 'b', ageMs: db.bAge }])];
    },
    balancer,
    log: captureLogger().log,
    heartbeatMs: 1000,
    maxResponseDelayMs: 5000,
    clock: () => clock.now,
    onChange: (gained) => changes.push(gained),
  });
  return { clock, db, balancer, peers, changes };
}

test('a starting instance holds back for two heartbeats, then answers its own half', async () => {
  const { clock, balancer, peers } = setup();
  await peers.start();
  peers.stop();
  assert.equal(balancer.held, true);
  clock.now = 1000;
  await peers.tick();
  assert.equal(balancer.held, true);
  clock.now = 2000;
  await peers.tick();
  assert.equal(balancer.held, false);
  assert.equal(peers.status().buckets, 128);
  assert.deepEqual(peers.status().alive, ['a', 'b']);
});

test("a peer whose heartbeat stops loses its buckets to the survivor, and gets them back when it beats again", async () => {
  const { db, peers, changes } = setup();
  await peers.tick();
  db.bAge = 4999;
  await peers.tick();
  assert.equal(peers.status().buckets, 128);
  db.bAge = 5000;
  await peers.tick();
  assert.equal(peers.status().buckets, 256);
  assert.deepEqual(changes, [128]);
  db.bAge = 100;
  await peers.tick();
  assert.equal(peers.status().buckets, 128);
  assert.deepEqual(changes, [128, -128]);
  db.bAge = null;
  await peers.tick();
  assert.equal(peers.status().buckets, 256, 'never seen at all: down');
});

test('cut off from the database: keeps its buckets for a while, then answers only its own', async () => {
  const { clock, db, peers } = setup();
  db.bAge = 9999;
  await peers.tick();
  assert.equal(peers.status().buckets, 256);
  db.down = true;
  clock.now = 4000;
  await peers.tick();
  assert.equal(peers.status().buckets, 256, 'a short outage changes nothing');
  clock.now = 6000;
  await peers.tick();
  assert.equal(peers.status().buckets, 128, 'the survivor may have taken ours: never answer its');
});

test('a takeover waits for beforeGain (the leases of the peer\'s clients) before answering the new buckets; giving back does not', async () => {
  const balancer = new LoadBalancer(['a', 'b'], 'a', '10.0.0.1');
  const db = { bAge: 0 };
  const seen: number[] = [];
  let failNext = false;
  const peers = new DhcpPeers({
    heartbeat: async (name) => [{ name, ageMs: 0 }, { name: 'b', ageMs: db.bAge }],
    balancer,
    log: captureLogger().log,
    heartbeatMs: 1000,
    maxResponseDelayMs: 5000,
    beforeGain: async () => {
      await new Promise((r) => setTimeout(r, 20));
      seen.push(balancer.buckets.servedCount);
      if (failNext) throw new Error('store unavailable');
    },
  });
  await peers.tick();
  assert.deepEqual(seen, [], 'own buckets at start: nothing to learn');
  db.bAge = 6000;
  await peers.tick();
  assert.deepEqual(seen, [128], 'called while still answering only its own half');
  assert.equal(peers.status().buckets, 256);
  db.bAge = 0;
  await peers.tick();
  assert.deepEqual(seen, [128], 'not called when giving buckets back');
  failNext = true;
  db.bAge = 6000;
  await peers.tick();
  assert.equal(peers.status().buckets, 256, 'a failed preparation does not stop the takeover');
});
