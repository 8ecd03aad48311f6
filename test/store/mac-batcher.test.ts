import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MacBatcher } from '../../server/store/mac-batcher.ts';
import type { System } from '../../server/store/types.ts';

const sys = (name: string) => ({ name }) as System;

test('lookups of one turn go out as one load, each caller gets its own MAC\'s systems', async () => {
  const loads: string[][] = [];
  const b = new MacBatcher(async (macs) => {
    loads.push(macs);
    return new Map([['aa', [sys('a')]]]);
  });
  const [a, none, again] = await Promise.all([b.get('aa'), b.get('bb'), b.get('aa')]);
  assert.deepEqual(loads, [['aa', 'bb']]);
  assert.deepEqual([a.map((s) => s.name), none, again.map((s) => s.name)], [['a'], [], ['a']]);
});

test('more MACs than one batch holds go out as several loads; a failed load fails its callers only', async () => {
  const loads: string[][] = [];
  const b = new MacBatcher(async (macs) => {
    loads.push(macs);
    if (macs.includes('m2')) throw new Error('store unavailable');
    return new Map();
  }, 2);
  const results = await Promise.allSettled(['m0', 'm1', 'm2', 'm3'].map((m) => b.get(m)));
  assert.deepEqual(loads, [['m0', 'm1'], ['m2', 'm3']]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
});
