// The route matcher the boot path runs on every request, checked against the obvious split-based
// reading of a pattern over generated paths, plus the cases that decide a 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES, compilePattern, type RouteSpec } from '../../server/http/routes.ts';

/** The reference reading: split both on '/', match segment by segment. */
function reference(pattern: string, path: string): Record<string, string> | null {
  const parts = pattern.split('/').slice(1);
  const segs = path.split('/').slice(1);
  if (!path.startsWith('/')) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '*') {
      params['*'] = segs.slice(i).join('/');
      return params;
    }
    const s = segs[i];
    if (s === undefined) return null;
    if (p.startsWith(':')) {
      if (s === '') return null;
      try {
        params[p.slice(1)] = decodeURIComponent(s);
      } catch {
        return null;
      }
    } else if (p !== s) return null;
  }
  return segs.length === parts.length ? params : null;
}

const spec = (path: string): RouteSpec => ({ name: 't', methods: ['GET'], path, lean: true, auth: false, summary: '' });

test('the matcher agrees with the split-based reading on 20,000 generated paths for every route', () => {
  const pieces = ['', 'ks', 'ks2', 'k', 'scripts', 'events', 'trees', 'ipxe', 'boot.ipxe', 'api', 'v1', 'systems', 'abc', 'a%20b', '%E0%A4%A', '%2F', 'install.sh', '..'];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const patterns = ROUTES.map((r) => r.path);
  for (let i = 0; i < 20_000; i++) {
    const n = rnd(5);
    let path = n === 0 && rnd(4) === 0 ? 'ks/x' : '';
    for (let j = 0; j < n; j++) path += '/' + pieces[rnd(pieces.length)];
    if (rnd(8) === 0) path += '/';
    if (path === '') path = '/';
    for (const pattern of patterns) {
      assert.deepEqual(compilePattern(spec(pattern)).match(path), reference(pattern, path), `${pattern} on ${JSON.stringify(path)}`);
    }
  }
});

test('params are URI-decoded, a bad escape or an empty segment is no match, the wildcard takes the rest', () => {
  assert.deepEqual(compilePattern(spec('/ks/:token')).match('/ks/a%2Fb'), { token: 'a/b' });
  assert.equal(compilePattern(spec('/ks/:token')).match('/ks/%E0%A4%A'), null);
  assert.equal(compilePattern(spec('/ks/:token')).match('/ks/'), null);
  assert.equal(compilePattern(spec('/ks/:token')).match('/ks/a/'), null);
  assert.equal(compilePattern(spec('/ks/:token')).match('/ksx/a'), null);
  assert.deepEqual(compilePattern(spec('/trees/:distro/*')).match('/trees/c4/images/pxeboot/vmlinuz'), { distro: 'c4', '*': 'images/pxeboot/vmlinuz' });
  assert.deepEqual(compilePattern(spec('/trees/:distro/*')).match('/trees/c4'), { distro: 'c4', '*': '' });
  assert.deepEqual(compilePattern(spec('/boot.ipxe')).match('/boot.ipxe'), {});
  assert.equal(compilePattern(spec('/boot.ipxe')).match('/boot.ipxe/'), null);
});
