// SIGHUP: reload profiles (every subfolder), templates and the reloadable part of the configuration,
// all or nothing. Each is loaded and checked first; only when all of them load is anything switched.
// A bad reload is refused with one log line naming what failed, and the running set stays. (The
// profile registry also reloads by itself when a file under the profiles folder changes.)
import type { Config } from './config/load.ts';
import type { Logger } from './log.ts';
import type { ArtifactRenderer, Artifacts } from './boot/artifacts.ts';
import type { Lifecycle } from './boot/lifecycle.ts';
import { loadProfiles } from './profiles/load.ts';
import type { ProfileRegistry } from './profiles/registry.ts';

/** Configuration keys a reload applies; a change to any other key is logged as needing a restart. */
export const RELOADABLE_KEYS = ['lifecycle.stall_seconds', 'lifecycle.token_ttl_seconds', 'lifecycle.max_log_bytes'] as const;

export interface ReloadParts {
  /** The configuration the service runs with now. */
  config: Config;
  /** Reads the configuration again (file and environment); null when it was given in code. */
  loadConfig: (() => Config) | null;
  /** Loads the templates again; null when the renderer was given in code (tests). */
  loadRenderer: (() => Promise<ArtifactRenderer>) | null;
  registry: ProfileRegistry;
  artifacts: Artifacts;
  lifecycle: Lifecycle;
  log: Logger;
}

/** What one reload did. */
export interface ReloadResult {
  ok: boolean;
  /** Why it was refused (file and key or line, as the loaders say). */
  error?: string;
  /** Changed keys that only a restart applies. */
  restartNeeded: string[];
}

/** Returns the value at a dotted key path. */
function at(config: Config, key: string): unknown {
  return key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);
}

/** Returns the dotted paths of the leaves that differ between a and b. */
function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isMap(a) && isMap(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    return [...keys].flatMap((k) => changedKeys((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/** Returns a reload function; calls run one at a time, in order. */
export function createReloader(p: ReloadParts): () => Promise<ReloadResult> {
  let running = p.config;
  let queue: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (): Promise<ReloadResult> => {
    let next: Config = running;
    let renderer: ArtifactRenderer | null = null;
    try {
      if (p.loadConfig) next = p.loadConfig();
      if (p.loadRenderer) renderer = await p.loadRenderer();
      loadProfiles(running.profiles_dir);
    } catch (err) {
      const error = (err as Error).message;
      p.log.error({ err: error }, `reload refused, keeping the running profiles, templates and configuration: ${error}`);
      return { ok: false, error, restartNeeded: [] };
    }
    const changed = changedKeys(running, next);
    const restartNeeded = changed.filter((k) => !(RELOADABLE_KEYS as readonly string[]).some((r) => k === r));
    if (restartNeeded.length > 0) p.log.warn({ keys: restartNeeded }, `configuration changed in ${restartNeeded.join(', ')}: restart kickstand to apply`);
    p.lifecycle.configure({
      stallMs: (at(next, 'lifecycle.stall_seconds') as number) * 1000,
      tokenTtlMs: (at(next, 'lifecycle.token_ttl_seconds') as number) * 1000,
      maxLogBytes: at(next, 'lifecycle.max_log_bytes') as number,
    });
    // Keys a restart applies stay as they run, so the next reload compares against what runs.
    running = restartNeeded.length > 0 ? mergeReloadable(running, next) : next;
    if (renderer) p.artifacts.useRenderer(renderer);
    if (!p.registry.reload()) return { ok: false, error: 'profiles changed on disk during the reload', restartNeeded };
    p.artifacts.invalidate();
    p.log.info({ applied: changed.filter((k) => !restartNeeded.includes(k)), templates: renderer !== null }, 'reloaded profiles, templates and configuration');
    return { ok: true, restartNeeded };
  };
  return () => {
    const r = queue.then(reloadOnce, reloadOnce);
    queue = r;
    return r;
  };
}

/** Returns the running configuration with only the reloadable keys taken from next. */
function mergeReloadable(running: Config, next: Config): Config {
  const copy = structuredClone(running) as Config & { lifecycle: Record<string, unknown> };
  for (const key of RELOADABLE_KEYS) copy.lifecycle[key.split('.')[1]!] = at(next, key);
  return copy;
}
