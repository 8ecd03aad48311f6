// The system suite's own helpers: apt waits for a dpkg lock another process holds (and gives up
// after its time), and a system test that cannot run is skipped on a developer's machine but
// fails under CI=true (node counts a skip as a pass).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { aptGet, lockHeld } from './system/lib/apt.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const LOCKED = 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?';

/** A stand-in for spawnSync that answers from a script of results and records the argv. */
function scripted(results: Array<{ status: number; stderr?: string }>) {
  const calls: string[][] = [];
  const run = ((cmd: string, args: string[]) => {
    calls.push([cmd, ...args]);
    const r = results.shift() ?? { status: 0 };
    return { status: r.status, stdout: '', stderr: r.stderr ?? '', pid: 1, output: [], signal: null } as unknown as SpawnSyncReturns<string>;
  }) as unknown as typeof spawnSync;
  return { run, calls };
}

test('apt-get waits while another process holds the dpkg lock, then installs', () => {
  const s = scripted([{ status: 100, stderr: LOCKED }, { status: 100, stderr: LOCKED }, { status: 0 }]);
  aptGet(['install', '-y', 'xorriso'], { run: s.run, waitMs: 60_000, retryMs: 1 });
  assert.equal(s.calls.length, 3);
  assert.deepEqual(s.calls[0]!.slice(0, 3), ['apt-get', '-o', s.calls[0]![2]!]);
  assert.match(s.calls[0]![2]!, /^DPkg::Lock::Timeout=\d+$/, 'apt itself is told to wait for the lock');
  assert.ok(lockHeld(LOCKED));
});

test('apt-get gives up when the lock stays held past the wait, and at once on any other failure', () => {
  const held = scripted(Array.from({ length: 1000 }, () => ({ status: 100, stderr: LOCKED })));
  assert.throws(() => aptGet(['update'], { run: held.run, waitMs: 50, retryMs: 5 }), /lock was still held after/);
  assert.ok(held.calls.length >= 2 && held.calls.length < 1000, `${held.calls.length} tries`);
  const broken = scripted([{ status: 100, stderr: 'E: Unable to locate package nosuchpackage' }]);
  assert.throws(() => aptGet(['install', 'nosuchpackage'], { run: broken.run, waitMs: 60_000, retryMs: 1 }), /Unable to locate package/);
  assert.equal(broken.calls.length, 1);
});

test('a system test that cannot run skips on a developer machine and fails under CI=true', () => {
  const file = join(ROOT, 'test/fixtures/system/not-root.ts');
  const run = (ci: string | undefined) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CI;
    delete env.NODE_TEST_CONTEXT; // else the child reports to this runner instead of printing
    if (ci !== undefined) env.CI = ci;
    return spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { cwd: ROOT, env, encoding: 'utf8' });
  };
  const dev = run(undefined);
  assert.equal(dev.status, 0, dev.stdout);
  assert.match(dev.stdout, /# skipped 1/);
  const ci = run('true');
  assert.notEqual(ci.status, 0, 'the suite fails under CI');
  assert.match(ci.stdout, /# fail 1/);
  assert.match(ci.stdout, /CI=true and not root: needs root for network namespaces/);
});
