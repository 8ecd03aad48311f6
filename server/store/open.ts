// Opens the store the configuration names: PostgreSQL when store.url is set, else SQLite in the
// data folder. The one place that knows both implementations.
import type { Config } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { redactUrl } from './pg-url.ts';
import { databasePath, openSqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import type { Store } from './types.ts';

export { databasePath };

/**
 * Returns the configured store, migrated and ready; throws StoreError or ConfigError with one line
 * when it cannot be used. `listen: false` suits one-shot commands (no change feed, no read cache).
 */
export async function openStore(config: Pick<Config, 'data_dir' | 'store'>, options: { log?: Logger; listen?: boolean; sqlite?: SqliteStoreOptions } = {}): Promise<Store> {
  const s = config.store;
  if (!s.url) return openSqliteStore(databasePath(config), options.sqlite);
  // Loaded only when configured: the pg client is a large part of a short command's start-up.
  const { openPgStore } = await import('./postgres.ts');
  return openPgStore({ url: s.url, poolSize: s.pool_size, connectTimeoutMs: s.connect_timeout_ms, queryTimeoutMs: s.query_timeout_ms, log: options.log, listen: options.listen });
}

/** Returns a short description of where the store lives, for logs (no password). */
export function describeStore(config: Pick<Config, 'data_dir' | 'store'>): string {
  return config.store.url ? `postgres ${redactUrl(config.store.url)}` : `sqlite ${databasePath(config)}`;
}
