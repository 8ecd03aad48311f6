// The protocol suites again with the other data paths: transfers on two worker threads instead of
// the listening thread, and on the native engine's two C threads (native/tftpengine, built by
// `npm ci`): the same behaviour is required of all three (one conformance suite, three engines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const SUITES = ['server', 'loss', 'malformed', 'limits', 'busy-poll', 'native'].map((s) => `test/tftp/${s}.test.ts`);

/** Runs the suites in a child with the given environment; fails with their output. */
function runSuites(env: Record<string, string>, what: string): void {
  const root = new URL('../..', import.meta.url).pathname;
  // The runner marks its children with NODE_TEST_CONTEXT; a child `--test` that inherits it runs
  // nothing and exits 0, so it must not see it.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', ...SUITES], {
    cwd: root,
    env: { ...inherited, ...env },
    encoding: 'utf8',
    timeout: 590_000,
  });
  assert.equal(r.status, 0, `suites failed ${what}:\n${r.stdout}\n${r.stderr}`);
  // The dot reporter prints one '.' per passing test: the suites hold far more than 20.
  assert.ok((r.stdout.match(/\./g) ?? []).length >= 20, `the suites ran ${what}:\n${r.stdout}`);
}

test('the TFTP suites pass with transfers on worker threads', { timeout: 600_000 }, () => {
  runSuites({ KICKSTAND_TEST_TFTP_WORKERS: '2', KICKSTAND_TEST_TFTP_ENGINE: 'js' }, 'with workers');
});

test('the TFTP suites pass with transfers on the native engine', { timeout: 600_000 }, () => {
  runSuites({ KICKSTAND_TEST_TFTP_WORKERS: '2', KICKSTAND_TEST_TFTP_ENGINE: 'native' }, 'with the native engine');
});
