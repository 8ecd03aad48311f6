// The live set of profiles and distros: YAML files reloaded on change (a bad edit keeps the last
// good set), plus distros detected from ISOs, which YAML distros of the same name refine.
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../log.ts';
import { NotFoundError } from '../errors.ts';
import { byName } from '../order.ts';
import { checkProfileForFamily } from './check.ts';
import { applyOverrides, loadProfilesCached, type ProfileCache, type ProfileSet } from './load.ts';
import type { Distro, Profile } from './schema.ts';

/** A source of distros found outside YAML (the ISO catalog). */
export interface DistroSource {
  distros(): Distro[];
}

/** Keys whose values are secrets wherever they sit (root_password_hash, xen.vnc.password, tokens…). */
const SECRET_KEY = /password|passwd|secret|token|private_key/i;

/** Returns a deep copy of value with every non-empty value under a secret-looking key replaced by "********". */
export function maskSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v)) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== '' ? '********' : maskSecrets(v);
  }
  return out as T;
}

/** Returns the profile with secrets replaced by "********" (API and dashboard views). */
export function maskProfile(p: Profile): Profile {
  return maskSecrets(p);
}

/** Holds the current ProfileSet and answers lookups. */
export class ProfileRegistry {
  private set: ProfileSet;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private isoDistros: DistroSource | null = null;
  private listeners: Array<() => void> = [];

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    /** Keeps the resolved set between runs (compiled builds; see loadProfilesCached). */
    private readonly cache: ProfileCache | null = null,
  ) {
    this.set = loadProfilesCached(dir, cache);
  }

  /** Adds the ISO catalog as a distro source. */
  useDistroSource(src: DistroSource): void {
    this.isoDistros = src;
  }

  /** Calls fn after every successful reload. */
  onReload(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Reloads from disk; on error logs it and keeps the previous set. Returns whether it changed. */
  reload(): boolean {
    try {
      this.set = loadProfilesCached(this.dir, this.cache);
      for (const fn of this.listeners) fn();
      this.log.info({ profiles: this.set.profiles.size, distros: this.set.distros.size }, 'profiles reloaded');
      return true;
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'profiles not reloaded, keeping the previous set');
      return false;
    }
  }

  /** Starts reloading when files in the folder change (debounced). */
  watch(debounceMs = 200): void {
    if (this.watcher) return;
    this.watcher = watch(this.dir, { recursive: true }, () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), debounceMs);
    });
    this.watcher.on('error', (err) => this.log.warn({ err: err.message }, 'profiles watch failed'));
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Returns every assignable profile, sorted by name. */
  profiles(): Profile[] {
    return [...this.set.profiles.values()].sort(byName);
  }

  /** Returns the profile or null. */
  profile(name: string): Profile | null {
    return this.set.profiles.get(name) ?? null;
  }

  /** Returns the profile or throws NotFoundError. */
  requireProfile(name: string): Profile {
    const p = this.profile(name);
    if (!p) throw new NotFoundError(`no profile named ${JSON.stringify(name)}`);
    return p;
  }

  /** Returns the profile with a system's overrides merged and validated, for its distro's family when that distro is known. */
  resolve(profileName: string, overrides: Record<string, unknown>, where = 'overrides'): Profile {
    const profile = applyOverrides(this.requireProfile(profileName), overrides, where);
    const distro = this.distro(profile.distro);
    if (distro) checkProfileForFamily(profile, distro.family, where);
    return profile;
  }

  /** Returns every distro: ISO-detected ones, with YAML distros of the same name taking precedence. */
  distros(): Distro[] {
    const merged = new Map<string, Distro>();
    for (const d of this.isoDistros?.distros() ?? []) merged.set(d.name, d);
    for (const d of this.set.distros.values()) merged.set(d.name, d);
    return [...merged.values()].sort(byName);
  }

  /** Returns the distros defined in YAML only (not those detected in ISOs). */
  yamlDistros(): Distro[] {
    return [...this.set.distros.values()];
  }

  /** Returns the distro or null. */
  distro(name: string): Distro | null {
    return this.distros().find((d) => d.name === name) ?? null;
  }
}
