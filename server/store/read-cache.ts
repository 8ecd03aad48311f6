// The PostgreSQL store's read cache: frozen answers to the boot path's lookups (system by name, token,
// systems by MACs, system by address), so a boot storm's repeated reads never leave the process.
//
// Reads are asynchronous here, which SQLite's cache never had to think about: a read that started
// before a write committed may come back after it. Every change bumps a generation, and a read
// only fills the cache when no change arrived while it was in flight. Entries name what they depend
// on (a system's row, its tokens, its MACs and address) and changes are told that finely (this
// process's commits, and other instances' through LISTEN/NOTIFY), so a step report of one system
// drops its row and nothing else: its token and MAC lookups stay. While the change feed is down the cache is not trusted: reads
// go to the database and the entries (also those a change made stale) only stand in when the
// database cannot be reached.

/** Entries kept at most; past this the cache starts again empty (lookups of many names cannot grow it). */
export const DEFAULT_CACHE_MAX = 10_000;

interface Entry {
  value: unknown;
  /** What the answer depends on (e.g. `row:ng`); an empty list marks a "none found" answer. */
  deps: readonly string[];
  /** False once a change may have made it wrong: kept only to stand in while the database is out of reach. */
  fresh: boolean;
}

/** Returns value deep-frozen (one level into arrays and objects of objects). */
function freeze<T>(value: T): T {
  if (!value || typeof value !== 'object') return value;
  const freezeOne = (v: object) => {
    Object.freeze(v);
    for (const inner of Object.values(v)) if (inner && typeof inner === 'object' && !Object.isFrozen(inner)) Object.freeze(inner);
  };
  if (Array.isArray(value)) for (const v of value) if (v && typeof v === 'object') freezeOne(v);
  freezeOne(value);
  return value;
}

/** A cache of lookups keyed by string, invalidated by what they depend on. */
export class ReadCache {
  private gen = 0;
  private trusted = false;
  private readonly entries = new Map<string, Entry>();
  private readonly byDep = new Map<string, Set<string>>();
  private readonly empties = new Set<string>();

  constructor(private readonly max = DEFAULT_CACHE_MAX) {}

  /** Returns the generation a read must quote to put() its answer. */
  begin(): number {
    return this.gen;
  }

  /** Returns a cached answer while the cache is trusted. */
  get<T>(key: string): T | undefined {
    if (!this.trusted) return undefined;
    const e = this.entries.get(key);
    return e?.fresh ? (e.value as T) : undefined;
  }

  /** Returns a cached answer even when it may be stale (the database is out of reach). */
  stale<T>(key: string): T | undefined {
    return this.entries.get(key)?.value as T | undefined;
  }

  /** Returns true when key has an entry, trusted or not. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Stores a read's answer unless a change arrived since begin() returned gen; returns the (frozen) value. */
  put<T>(key: string, value: T, deps: readonly string[], gen: number): T {
    freeze(value);
    if (gen !== this.gen) return value;
    if (this.entries.size >= this.max) this.drop();
    this.unindex(key);
    this.entries.set(key, { value, deps, fresh: true });
    if (deps.length === 0) this.empties.add(key);
    for (const d of deps) {
      let keys = this.byDep.get(d);
      if (!keys) this.byDep.set(d, (keys = new Set()));
      keys.add(key);
    }
    return value;
  }

  /**
   * Marks stale every entry that depends on one of deps, and with `empties` every "none found"
   * answer (a system's MACs or address changed, so a lookup may now match). Stale entries are no
   * longer served, only kept to stand in for the database.
   */
  invalidate(deps: Iterable<string>, empties = false): void {
    this.gen++;
    for (const d of deps) {
      const keys = this.byDep.get(d);
      if (!keys) continue;
      for (const k of [...keys]) this.unindex(k);
      this.byDep.delete(d);
    }
    if (empties) for (const k of [...this.empties]) this.unindex(k);
  }

  /** Drops everything (a change of unknown extent). */
  drop(): void {
    this.gen++;
    this.entries.clear();
    this.byDep.clear();
    this.empties.clear();
  }

  /** Trusts the cache (the change feed is up) or stops trusting it; starting to trust drops what may have been missed. */
  setTrusted(trusted: boolean): void {
    if (trusted && !this.trusted) this.drop();
    this.gen++;
    this.trusted = trusted;
  }

  /** Returns whether cached answers are served without asking the database. */
  get isTrusted(): boolean {
    return this.trusted;
  }

  /** Returns the number of entries served as hits (stale ones not counted). */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.fresh) n++;
    return n;
  }

  /** Marks an entry stale and takes it out of the invalidation indexes. */
  private unindex(key: string): void {
    const e = this.entries.get(key);
    if (!e || !e.fresh) return;
    e.fresh = false;
    this.empties.delete(key);
    for (const d of e.deps) this.byDep.get(d)?.delete(key);
  }
}
