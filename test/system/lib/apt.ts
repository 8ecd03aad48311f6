// Installs the Debian packages a system test needs, once per machine: `apt-get update` at most once
// per process, then `apt-get install` of whatever is missing.
import { execFileSync, spawnSync } from 'node:child_process';

let updated = false;

/** Returns true when every named Debian package is installed. */
export function installed(pkgs: string[]): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}\n', ...pkgs], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  return r.stdout.split('\n').filter(Boolean).every((s) => s === 'installed');
}

/** Installs the named Debian packages that are not installed yet; throws with apt's output on failure. */
export function ensurePackages(pkgs: string[]): void {
  const missing = pkgs.filter((p) => !installed([p]));
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 300_000 });
    updated = true;
  }
  const r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    encoding: 'utf8',
    env,
    timeout: 900_000,
  });
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

/** Returns true when running as root (system tests need it for namespaces and apt). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
