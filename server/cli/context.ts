// What CLI commands share: configuration, the store, profiles, lifecycle and artifacts, opened
// directly (SQLite in WAL mode is safe beside a running server; PostgreSQL tells running servers
// of each change).
import { loadConfig, type Config } from '../config/load.ts';
import { createLogger, type Logger } from '../log.ts';
import { Lifecycle } from '../boot/lifecycle.ts';
import { ProfileRegistry } from '../profiles/registry.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';

export { databasePath } from '../store/open.ts';

export interface CliContext {
  config: Config;
  log: Logger;
  store: Store;
  registry: ProfileRegistry;
  lifecycle: Lifecycle;
  close(): Promise<void>;
}

/** Opens the store and profiles named by the configuration. */
export async function openContext(configFile: string | undefined): Promise<CliContext> {
  const config = loadConfig({ file: configFile });
  const log = createLogger({ level: config.log_level === 'info' ? 'warn' : config.log_level, pretty: false, destination: process.stderr as never });
  const store = await openStore(config, { log, listen: false });
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
