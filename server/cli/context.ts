// What CLI commands share: configuration, the store, profiles, lifecycle and artifacts, opened
// directly (SQLite in WAL mode is safe beside a running server; PostgreSQL tells running servers
// of each change).
import { loadConfig, type Config } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { BUILD_ID } from '../build-id.ts';
import { Lifecycle } from '../boot/lifecycle.ts';
import { ProfileRegistry } from '../profiles/registry.ts';
import { profileCache } from '../profiles/cache-file.ts';
import { databasePath, openStore } from '../store/open.ts';
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

export { databasePath };

/**
 * Opens what the configuration names. The logger, store and lifecycle are made on first use, so a
 * command that lists profiles loads neither pino's redaction nor the SQLite addon. A PostgreSQL
 * store (store.url) is connected here, since connecting is asynchronous: a wrong URL or an
 * unreachable database fails the command with one line.
 */
export async function openContext(configFile: string | undefined, options: { logger?: boolean } = {}): Promise<CliContext> {
  const config = loadConfig({ file: configFile });
  // pino is loaded only for commands that may log; `{ logger: false }` (listing profiles) skips it.
  const logModule = options.logger === false && !config.store.url ? null : await import('../log.ts');
  let log: Logger | undefined;
  let store: Store | undefined;
  let registry: ProfileRegistry | undefined;
  let lifecycle: Lifecycle | undefined;
  const ctx: CliContext = {
    config,
    get log() {
      if (!logModule) throw new Error('this command opened no logger');
      return (log ??= logModule.createLogger({ level: config.log_level === 'info' ? 'warn' : config.log_level, pretty: false, destination: process.stderr as never }));
    },
    get store() {
      return (store ??= openSqliteStore(databasePath(config)));
    },
    get registry() {
      // The registry logs only when it reloads, which a CLI command never does: it gets a logger
      // that is made on its first line, so listing profiles builds no pino redaction.
      const lazyLog = new Proxy({} as Logger, {
        get: (_t, key) => {
          const real = ctx.log as unknown as Record<string | symbol, unknown>;
          const v = real[key];
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
        },
      });
      return (registry ??= new ProfileRegistry(config.profiles_dir, lazyLog, profileCache(config, BUILD_ID)));
    },
    get lifecycle() {
      return (lifecycle ??= new Lifecycle({
        store: ctx.store,
        log: ctx.log,
        tokenTtlMs: config.lifecycle.token_ttl_seconds * 1000,
        stallMs: config.lifecycle.stall_seconds * 1000,
        maxLogBytes: config.lifecycle.max_log_bytes,
      }));
    },
    close: async () => {
      await store?.close();
    },
  };
  if (config.store.url) store = await openStore(config, { log: ctx.log, listen: false });
  return ctx;
}
