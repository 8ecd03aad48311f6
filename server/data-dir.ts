// The data folder is held by one process at a time: a running server, or `kickstand restore` while
// it replaces the database. The lock is SQLite's own (an EXCLUSIVE transaction on `serve.lock`,
// a POSIX record lock the kernel drops when the process dies, however it dies), and the holder
// writes its PID beside it for the error message. The security work on the data folder uses the
// same two names; this is the one place they are spelled.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { ConflictError } from './errors.ts';

/** Names of the lock file and of the file naming the holder's PID, inside the data folder. */
export const LOCK_FILE = 'serve.lock';
export const PID_FILE = 'serve.pid';

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
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  const db = new Sqlite(lockPath, { timeout: 0 });
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    throw new ConflictError(`data folder ${dir} is in use by another kickstand process (${holder(pidPath)}); stop it first`, 'data_dir');
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
