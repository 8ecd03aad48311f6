// Installs the Debian packages a system test needs, once per machine: `apt-get update` at most once
// per process, then `apt-get install` of whatever is missing. Another apt or dpkg on the machine
// (another engineer's test, unattended upgrades) holds the dpkg lock for minutes: apt is told to
// wait for it, and a run that still finds it held is retried until APT_LOCK_WAIT_MS has passed.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

/** How long to wait in all for apt's locks before giving up. */
export const APT_LOCK_WAIT_MS = 15 * 60_000;
/** Pause between tries while the lock is held. */
export const APT_LOCK_RETRY_MS = 5_000;

let updated = false;

/** Returns true when every named Debian package is installed. */
export function installed(pkgs: string[]): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}\n', ...pkgs], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  return r.stdout.split('\n').filter(Boolean).every((s) => s === 'installed');
}

/** Whether apt's output says another process holds one of its locks. */
export function lockHeld(output: string): boolean {
  return /Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock directory|is another process using it\?/i.test(output);
}

/** Runs apt-get with args, waiting for locks held by others (up to waitMs in all); throws with apt's output on failure. */
export function aptGet(args: string[], o: { waitMs?: number; retryMs?: number; run?: typeof spawnSync } = {}): void {
  const run = o.run ?? spawnSync;
  const deadline = Date.now() + (o.waitMs ?? APT_LOCK_WAIT_MS);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (;;) {
    const left = Math.max(1, Math.round((deadline - Date.now()) / 1000));
    const r = run('apt-get', ['-o', `DPkg::Lock::Timeout=${left}`, ...args], { encoding: 'utf8', env, timeout: 30 * 60_000 });
    const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    if (r.status === 0) return;
    if (!lockHeld(output) || Date.now() >= deadline) {
      throw new Error(`apt-get ${args.join(' ')} failed${lockHeld(output) ? ` (its lock was still held after ${Math.round((o.waitMs ?? APT_LOCK_WAIT_MS) / 60_000)} minutes)` : ''}:\n${output}`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, o.retryMs ?? APT_LOCK_RETRY_MS);
  }
}

/** Installs the named Debian packages that are not installed yet; throws with apt's output on failure. */
export function ensurePackages(pkgs: string[]): void {
  const missing = pkgs.filter((p) => !installed([p]));
  if (missing.length === 0) return;
  if (!updated) {
    aptGet(['update', '-q']);
    updated = true;
  }
  aptGet(['install', '-y', '-q', '--no-install-recommends', ...missing]);
}

/** Returns true when running as root (system tests need it for namespaces and apt). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Returns the skip reason of a system test that needs root: false as root. Node counts a skip as a
 * pass, so under CI=true a test that cannot run is not skipped quietly: a failing test saying why
 * is added beside the skipped ones.
 */
export function skipUnlessRoot(why: string, env: NodeJS.ProcessEnv = process.env, root = isRoot()): string | false {
  if (root) return false;
  if (env.CI === 'true') {
    test(`this system test can run (${why})`, () => {
      throw new Error(`CI=true and not root: ${why}; a system test that cannot run fails rather than skips`);
    });
  }
  return why;
}
