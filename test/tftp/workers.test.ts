// The protocol suites again, with transfers on two worker threads instead of the listening thread:
// the same behaviour is required of both (one conformance suite, two implementations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const SUITES = ['server', 'loss', 'malformed', 'limits', 'busy-poll'].map((s) => `test/tftp/${s}.test.ts`);

test('the TFTP suites pass with transfers on worker threads', { timeout: 600_000 }, () => {
  const root = new URL('../..', import.meta.url).pathname;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', ...SUITES], {
    cwd: root,
    env: { ...process.env, KICKSTAND_TEST_TFTP_WORKERS: '2' },
    encoding: 'utf8',
    timeout: 590_000,
  });
  assert.equal(r.status, 0, `suites failed with workers:\n${r.stdout}\n${r.stderr}`);
});
