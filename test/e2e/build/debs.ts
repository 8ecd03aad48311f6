// Debian packages for the guest, fetched with `apt-get download` and unpacked with `dpkg -x`:
// never installed on the host (the kernel's and GRUB's maintainer scripts fail there).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** One downloaded package: its name, the version apt chose and the .deb file in the cache. */
export interface Deb {
  name: string;
  version: string;
  file: string;
}

let listsFresh = false;

/** Runs apt-cache with args, refreshing the package lists once if apt knows nothing yet. */
function aptCache(args: string[]): string {
  const r = spawnSync('apt-cache', args, { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim() !== '') return r.stdout;
  if (!listsFresh) {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', timeout: 300_000 });
    listsFresh = true;
    return aptCache(args);
  }
  throw new Error(`apt-cache ${args.join(' ')} failed: ${r.stderr.trim() || 'no output'}`);
}

/** Returns the candidate version apt would download for a package. */
export function candidateVersion(name: string): string {
  const out = aptCache(['show', '--no-all-versions', name]);
  const m = /^Version: (\S+)$/m.exec(out);
  if (!m) throw new Error(`apt-cache show ${JSON.stringify(name)}: no Version field`);
  return m[1];
}

/** Returns the concrete package a metapackage depends on first (linux-image-amd64 -> linux-image-6.1.0-NN-amd64). */
export function concreteDependency(meta: string, prefix: string): string {
  const out = aptCache(['depends', meta]);
  const m = new RegExp(`Depends: (${prefix.replace(/[-.]/g, '\\$&')}\\S+)`).exec(out);
  if (!m) throw new Error(`apt-cache depends ${JSON.stringify(meta)}: no dependency starting ${JSON.stringify(prefix)}`);
  return m[1];
}

/** Returns the package at its candidate version, downloading it into dir unless it is cached there. */
export function fetchDeb(dir: string, name: string): Deb {
  const version = candidateVersion(name);
  const file = join(dir, `${name}_${version.replace(/:/g, '%3a')}.deb`);
  if (existsSync(file)) return { name, version, file };
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(dir, '.dl-'));
  try {
    const r = spawnSync('apt-get', ['download', '-q', `${name}=${version}`], { cwd: tmp, encoding: 'utf8', timeout: 600_000 });
    const got = readdirSync(tmp).filter((f) => f.endsWith('.deb'));
    if (r.status !== 0 || got.length !== 1) {
      throw new Error(`apt-get download ${name}=${version} failed: ${r.stderr.trim()}`);
    }
    renameSync(join(tmp, got[0]), file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { name, version, file };
}

/** Unpacks a .deb into dest with `dpkg -x` (no maintainer scripts run). */
export function unpackDeb(deb: Deb, dest: string): void {
  mkdirSync(dest, { recursive: true });
  execFileSync('dpkg', ['-x', deb.file, dest], { stdio: 'ignore' });
}

/** Returns the installed version of a host package (for cache keys of host binaries copied into the guest). */
export function hostVersion(name: string): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`host package ${JSON.stringify(name)} is not installed`);
  return r.stdout.trim();
}
