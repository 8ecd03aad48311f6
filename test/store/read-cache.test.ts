import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadCache } from '../../server/store/read-cache.ts';

const trusted = () => {
  const c = new ReadCache();
  c.setTrusted(true);
  return c;
};

test('a read that started before a change does not fill the cache', () => {
  const c = trusted();
  const gen = c.begin();
  c.invalidate(['row:ng']);
  c.put('s:ng', { name: 'ng', state: 'build' }, ['ng'], gen);
  assert.equal(c.get('s:ng'), undefined);
  const now = c.begin();
  c.put('s:ng', { name: 'ng', state: 'built' }, ['ng'], now);
  assert.deepEqual(c.get('s:ng'), { name: 'ng', state: 'built' });
});

test('a change drops the entries depending on it, "none found" answers only when asked, and keeps the others', () => {
  const c = trusted();
  const g = c.begin();
  c.put('s:a', { name: 'a' }, ['row:a'], g);
  c.put('m:x,y', ['a', 'b'], ['member:a', 'member:b'], g);
  c.put('s:b', { name: 'b' }, ['row:b'], g);
  c.put('i:10.0.0.1', [], [], g);
  c.invalidate(['row:a']);
  assert.equal(c.get('s:a'), undefined);
  assert.deepEqual(c.get('m:x,y'), ['a', 'b'], 'a report changes the row, not who a MAC belongs to');
  assert.deepEqual(c.get('i:10.0.0.1'), []);
  c.invalidate(['member:a'], true);
  assert.equal(c.get('m:x,y'), undefined);
  assert.equal(c.get('i:10.0.0.1'), undefined, 'a MAC or address changed: a lookup that found nothing may find it now');
  assert.deepEqual(c.get('s:b'), { name: 'b' });
  assert.equal(c.size, 1);
  assert.deepEqual(c.stale('s:a'), { name: 'a' }, 'kept to stand in while the database is out of reach');
});

test('cached values are frozen, arrays and their objects too', () => {
  const c = trusted();
  const v = c.put('m:x', [{ name: 'a', macs: ['x'] }], ['a'], c.begin());
  assert.throws(() => (v as Array<{ macs: string[] }>)[0]!.macs.push('y'), TypeError);
});

test('untrusted: no hits, but stale entries stand in; trusting again starts empty', () => {
  const c = trusted();
  c.put('s:a', { name: 'a' }, ['a'], c.begin());
  c.setTrusted(false);
  assert.equal(c.get('s:a'), undefined);
  assert.deepEqual(c.stale('s:a'), { name: 'a' });
  c.setTrusted(true);
  assert.equal(c.stale('s:a'), undefined, 'changes may have been missed while the feed was down');
});

test('the cache is bounded: past max it starts again', () => {
  const c = new ReadCache(3);
  c.setTrusted(true);
  for (const k of ['a', 'b', 'c', 'd']) c.put(`s:${k}`, { name: k }, [k], c.begin());
  assert.ok(c.size <= 3);
  assert.deepEqual(c.get('s:d'), { name: 'd' });
});
