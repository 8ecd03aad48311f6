// `kickstand backup FILE` and `kickstand restore FILE`: a consistent copy of the database while a
// server runs, and putting one back while none does.
import { loadConfig, type Config } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { lockDataDir } from '../data-dir.ts';
import { backupDatabase, restoreDatabase } from '../store/sqlite-backup.ts';
import { databasePath } from './context.ts';
import { parse, UsageError } from './usage.ts';

/** Throws when the store is PostgreSQL: its backups are the database's own (pg_dump, replication). */
function sqliteOnly(config: Config, command: string): void {
  if (config.store.url) throw new ConfigError(`${command}: store.url is set: the database is PostgreSQL, back it up with pg_dump (or its replication)`, 'store.url');
}

/** Runs `backup FILE [--force]`; returns the exit code. */
export async function backupCommand(configFile: string | undefined, args: string[], out: (s: string) => void): Promise<number> {
  const a = parse(args, { force: { type: 'boolean' } });
  if (a.positionals.length !== 1) throw new UsageError('backup takes one FILE');
  const config = loadConfig({ file: configFile });
  sqliteOnly(config, 'backup');
  const s = await backupDatabase(databasePath(config), a.positionals[0]!, { force: a.values.force });
  out(`wrote ${a.positionals[0]} (${s.bytes} bytes): ${s.systems} systems, ${s.events} events, schema version ${s.version}, integrity ok\n`);
  return 0;
}

/** Runs `restore FILE`: refuses while a server holds the data folder; keeps the replaced database. */
export async function restoreCommand(configFile: string | undefined, args: string[], out: (s: string) => void): Promise<number> {
  const a = parse(args, {});
  if (a.positionals.length !== 1) throw new UsageError('restore takes one FILE');
  const config = loadConfig({ file: configFile });
  sqliteOnly(config, 'restore');
  const lock = lockDataDir(config.data_dir);
  try {
    const r = await restoreDatabase(a.positionals[0]!, databasePath(config));
    out(`restored ${r.restored.systems} systems and ${r.restored.events} events from ${a.positionals[0]}\n`);
    if (r.previous) out(`the database it replaced is kept as ${r.previous}\n`);
    return 0;
  } finally {
    lock.release();
  }
}
