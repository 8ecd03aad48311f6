// The data folder: private to kickstand's user (0700), and held by one process at a time: a
// running server, or `kickstand restore` while it replaces the database. The lock is SQLite's own
// (a POSIX record lock on `serve.lock`, taken with BEGIN EXCLUSIVE and held while the holder runs),
// so the kernel releases it when the process dies however it dies, and no PID can be mistaken for
// a live holder; the holder writes its PID beside it for the error message. Other CLI commands do
// not take it: they open the store beside a running server, which SQLite's WAL mode allows.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { ConflictError } from './errors.ts';
import type { Logger } from './log.ts';

/** Names of the lock file and of the file naming the holder's PID, inside the data folder. */
export const LOCK_FILE = 'serve.lock';
export const PID_FILE = 'serve.pid';

/** Creates the data folder with mode 0700, or tightens an existing one that others can read; returns whether it was tightened. */
export function prepareDataDir(dir: string, log?: Logger): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return false;
  chmodSync(dir, 0o700);
  log?.info({ dir, was: mode.toString(8) }, `data folder ${dir} was mode ${mode.toString(8)}; set it to 700`);
  return true;
}

/** A held data-folder lock. */
export interface DataDirLock {
  /** Releases the lock (idempotent). */
  release(): void;
}

/** Takes the data folder's lock for this process; throws ConflictError naming the holder's PID when another process holds it. */
export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lockPath = join(dir, LOCK_FILE);
  const pidPath = join(dir, PID_FILE);
  if (!existsSync(lockPath)) closeSync(openSync(lockPath, 'a', 0o600));
  // The native addon loads on first use, not on import: CLI commands that never lock skip it.
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  const db = new Sqlite(lockPath, { timeout: 0 });
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    throw new ConflictError(`data folder ${dir} is in use by another kickstand process (${holder(pidPath)}); stop it first, or give this one another data_dir`, 'data_dir');
  }
  writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 });
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      rmSync(pidPath, { force: true });
      db.close();
    },
  };
}

/** Returns "pid N" from the holder's PID file, or a note that it is unknown. */
function holder(pidPath: string): string {
  try {
    const pid = readFileSync(pidPath, 'utf8').trim();
    if (/^\d+$/.test(pid)) return `pid ${pid}`;
  } catch {
    // not written yet, or already removed
  }
  return 'pid unknown';
}
