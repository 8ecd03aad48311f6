// Backup and restore of the SQLite store. A backup is SQLite's online backup API run against the
// live database (WAL mode lets it read a consistent snapshot while a server writes), written to a
// temporary file, switched to a self-contained rollback journal, checked with PRAGMA
// integrity_check and only then renamed into place. A restore checks the file the same way, keeps
// the database it replaces beside it, and copies the backup in with the same API.
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { BadRequestError, ConflictError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

/** Pages copied in the backup's first step; the rest go in one step, so a busy writer restarts it at most once. */
export const FIRST_STEP_PAGES = 100;

/** What a database file holds, as far as an operator cares. */
export interface DatabaseSummary {
  systems: number;
  events: number;
  version: number;
  bytes: number;
}

const sqlite = () => createRequire(import.meta.url)('better-sqlite3') as typeof Database;

/** Copies the whole database behind source into a new file at target (mode 0600: it holds tokens and secrets) with the online backup API. */
async function copyDatabase(source: Database.Database, target: string): Promise<void> {
  // Made before SQLite opens it, so the copy (and the journal SQLite makes beside it) is never readable by others.
  closeSync(openSync(target, 'w', 0o600));
  // After the first step, everything left goes in one step: a write by another connection between
  // steps restarts the backup, and small steps under a steady write load would restart forever.
  await source.backup(target, { progress: ({ remainingPages }) => Math.max(remainingPages, FIRST_STEP_PAGES) });
}

/** Returns the summary of a kickstand database file; throws BadRequestError naming the file when it is not one or is damaged. */
export function inspectDatabase(file: string): DatabaseSummary {
  if (!existsSync(file)) throw new BadRequestError(`${file}: no such file`);
  let db: Database.Database;
  try {
    db = new (sqlite())(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new BadRequestError(`${file}: not a SQLite database (${(err as Error).message})`);
  }
  try {
    const check = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    if (check[0]?.integrity_check !== 'ok') throw new BadRequestError(`${file}: integrity check failed: ${check.map((r) => r.integrity_check).join('; ')}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < 1 || version > MIGRATIONS.length) throw new BadRequestError(`${file}: schema version ${version} is not one this kickstand knows (1 to ${MIGRATIONS.length})`);
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { systems: count('systems'), events: count('events'), version, bytes: statSync(file).size };
  } catch (err) {
    if (err instanceof BadRequestError) throw err;
    throw new BadRequestError(`${file}: not a kickstand database (${(err as Error).message})`);
  } finally {
    db.close();
  }
}

/** Writes a consistent copy of the live database at dbPath to file (refusing to overwrite unless force); returns what it holds. */
export async function backupDatabase(dbPath: string, file: string, o: { force?: boolean } = {}): Promise<DatabaseSummary> {
  if (!existsSync(dbPath)) throw new BadRequestError(`no database at ${dbPath} to back up`);
  if (existsSync(file) && !o.force) throw new ConflictError(`${file} exists; remove it or pass --force`);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const source = new (sqlite())(dbPath, { fileMustExist: true, timeout: 5000 });
  try {
    await copyDatabase(source, tmp);
    // A backup is one file: no -wal beside it to lose when it is copied somewhere.
    const copy = new (sqlite())(tmp);
    copy.pragma('journal_mode = DELETE');
    copy.close();
    const summary = inspectDatabase(tmp);
    renameSync(tmp, file);
    return { ...summary, bytes: statSync(file).size };
  } finally {
    source.close();
    rmSync(tmp, { force: true });
  }
}

/**
 * Replaces the database at dbPath with the backup in file (the caller holds the data-folder lock).
 * The replaced database is checkpointed and kept as `<dbPath>.before-restore-<time>`; returns that path (null when there was none) and what was restored.
 */
export async function restoreDatabase(file: string, dbPath: string, now = new Date()): Promise<{ restored: DatabaseSummary; previous: string | null }> {
  const restored = inspectDatabase(file);
  let previous: string | null = null;
  if (existsSync(dbPath)) {
    const old = new (sqlite())(dbPath, { fileMustExist: true });
    old.pragma('wal_checkpoint(TRUNCATE)');
    old.close();
    previous = `${dbPath}.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(dbPath, previous);
    for (const suffix of ['-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  }
  const tmp = `${dbPath}.restore-${process.pid}.tmp`;
  const source = new (sqlite())(file, { readonly: true, fileMustExist: true });
  try {
    await copyDatabase(source, tmp);
    const copy = new (sqlite())(tmp);
    copy.pragma('journal_mode = WAL');
    copy.close();
    renameSync(tmp, dbPath);
  } catch (err) {
    if (previous && !existsSync(dbPath)) renameSync(previous, dbPath);
    throw err;
  } finally {
    source.close();
    rmSync(tmp, { force: true });
    for (const suffix of ['-wal', '-shm']) rmSync(`${tmp}${suffix}`, { force: true });
  }
  return { restored, previous };
}
