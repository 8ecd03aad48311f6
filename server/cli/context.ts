// What CLI commands share: configuration, the store, profiles, lifecycle and artifacts, opened
// directly (SQLite in WAL mode is safe beside a running server).
import { join } from 'node:path';
import { loadConfig, type Config } from '../config/load.ts';
import { createLogger, type Logger } from '../log.ts';
import { Lifecycle } from '../boot/lifecycle.ts';
import { ProfileRegistry } from '../profiles/registry.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';

export interface CliContext {
  config: Config;
  log: Logger;
  store: Store;
  registry: ProfileRegistry;
  lifecycle: Lifecycle;
  close(): Promise<void>;
}

/** Returns the path of the SQLite database inside the data folder. */
export function databasePath(config: Config): string {
  return join(config.data_dir, 'kickstand.db');
}

/** Opens the store and profiles named by the configuration. */
export function openContext(configFile: string | undefined): CliContext {
  const config = loadConfig({ file: configFile });
  const log = createLogger({ level: config.log_level === 'info' ? 'warn' : config.log_level, pretty: false, destination: process.stderr as never });
  const store = openSqliteStore(databasePath(config));
  const registry = new ProfileRegistry(config.profiles_dir, log);
  const lifecycle = new Lifecycle({
    store,
    log,
    tokenTtlMs: config.lifecycle.token_ttl_seconds * 1000,
    stallMs: config.lifecycle.stall_seconds * 1000,
    maxLogBytes: config.lifecycle.max_log_bytes,
  });
  return { config, log, store, registry, lifecycle, close: () => store.close() };
}
