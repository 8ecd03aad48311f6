// The SQLite Store: better-sqlite3 in WAL mode with foreign keys, numbered migrations, and every
// transition in one transaction.
import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConflictError, NotFoundError, StoreError } from '../errors.ts';
import { leaseWriteAllowed, type DhcpLeaseRecord } from './leases.ts';
import { MIGRATIONS } from './migrations.ts';
import { BackgroundCheckpointer } from './sqlite-checkpointer.ts';
import { PATCH_COLUMNS, SYSTEM_STATES, type InstallEvent, type NewEvent, type NewSystem, type PowerSettingsRecord, type Store, type System, type SystemCounts, type SystemPatch, type SystemQuery, type TokenRecord, type Transition } from './types.ts';

type Row = Record<string, unknown>;


/** Options of the SQLite store: the cache recheck interval, and WAL checkpoints on a worker (the server's store). */
export interface SqliteStoreOptions {
  recheckMs?: number;
  backgroundCheckpoint?: boolean;
  onError?: (message: string) => void;
}

/** Returns the path of the SQLite database inside the data folder. */
export function databasePath(config: { data_dir: string }): string {
  return join(config.data_dir, 'kickstand.db');
}

/** Returns a Store over the SQLite file at path (":memory:" for a private in-memory database); StoreError when it cannot be used. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  let db: Database.Database | null = null;
  let store: SqliteStore;
  try {
    if (path !== ':memory:') privateFiles(path);
    // The native addon loads on first open, not on import: CLI commands that never open the store skip it.
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    db = new Sqlite(path);
    store = new SqliteStore(db, options.recheckMs);
  } catch (err) {
    db?.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`store: ${path}: ${(err as Error).message}`, { cause: err });
  }
  // The server's store: WAL checkpoints (and their fsyncs) run on a worker, never on the loop.
  if (options.backgroundCheckpoint && path !== ':memory:') store.checkpointInBackground(path, options.onError);
  return store;
}

/**
 * Makes the database's folder (0700) and the database file (0600) before SQLite opens it: SQLite
 * creates its -wal and -shm files with the database file's mode, so none of them is readable by
 * other users. Files of an older install are tightened to 0600 too.
 */
function privateFiles(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Most transitions committed together: bounds how long one commit holds the event loop (about 5 ms on a small machine). */
export const DEFAULT_MAX_TRANSITION_BATCH = 64;

type TransitionResult = { system: System; event: InstallEvent | null; changed: boolean };

/** A write waiting for the next group commit, and its caller's promise. */
interface PendingWrite {
  write: () => unknown;
  committed?: (r: unknown) => void;
  resolve: (r: unknown) => void;
  reject: (err: unknown) => void;
}

/** SQLite implementation of Store. */
export class SqliteStore implements Store {
  /** Prepared statements by SQL text: preparing costs more than running a small query. */
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Frozen systems and tokens read since the last change. Our own writes clear it; writes by
   * another connection (the CLI beside a running server) change PRAGMA data_version, which every
   * cached read checks first. This keeps the boot path's per-request reads off SQLite.
   */
  private readonly cache = {
    version: -1,
    checkedAt: -Infinity,
    systems: new Map<string, System>(),
    tokens: new Map<string, TokenRecord>(),
    /** Cached tokens by system, so a write to one system drops only its own. */
    tokensOf: new Map<string, Set<string>>(),
    /** Owner of each MAC looked up (null: no system has it); cleared whenever any system's MACs or name change. */
    macs: new Map<string, string | null>(),
  };
  private static readonly CACHE_MAX = 10_000;
  private checkpointer: BackgroundCheckpointer | null = null;
  /** Transitions and token bindings waiting for the next group commit. */
  private readonly pending: PendingWrite[] = [];
  /** A write committed at once in this turn of the loop: later ones in the turn are batched. */
  private committedThisTurn = false;
  private readonly maxBatch: number;

  /**
   * @param recheckMs how often cached reads look for other connections' commits (PRAGMA
   * data_version costs a read transaction; checking it on every read halved the kickstart rate).
   * A CLI change reaches a running server within this time; the server's own writes at once.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly recheckMs = 50,
    maxBatch = DEFAULT_MAX_TRANSITION_BATCH,
  ) {
    this.maxBatch = Math.max(1, maxBatch);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  /** Applies the migrations newer than the database's user_version; refuses a database from a newer kickstand. */
  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new StoreError(`store: ${this.db.name}: schema version ${current} is newer than this kickstand knows (${MIGRATIONS.length}); upgrade kickstand or restore a matching backup`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /** Returns the prepared statement for sql, preparing it once. */
  private sql(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Empties the read cache when another connection has committed since it was filled. */
  private fresh(): void {
    const now = performance.now();
    if (now - this.cache.checkedAt < this.recheckMs) return;
    this.cache.checkedAt = now;
    const v = this.sql('PRAGMA data_version').pluck().get() as number;
    if (v !== this.cache.version) {
      this.dirty();
      this.cache.version = v;
    }
  }

  /** Empties the read cache (another connection's commit, a rename or a delete). */
  private dirty(): void {
    this.cache.systems.clear();
    this.cache.tokens.clear();
    this.cache.tokensOf.clear();
    this.cache.macs.clear();
  }

  /**
   * Drops what a write to one system can have changed: its row, its token records when they were
   * retired, and every MAC's owner when its MACs changed. A boot storm writes thousands of systems
   * a minute; emptying the whole cache on each write made every other machine's next read a miss.
   */
  private dirtySystem(name: string, changed: { macs?: boolean; tokens?: boolean } = {}): void {
    this.cache.systems.delete(name);
    if (changed.macs) this.cache.macs.clear();
    const toks = changed.tokens ? this.cache.tokensOf.get(name) : undefined;
    if (toks) {
      for (const t of toks) this.cache.tokens.delete(t);
      this.cache.tokensOf.delete(name);
    }
  }

  /** Keeps a frozen copy in a cache map, bounded (oldest out first) so lookups of many names cannot grow it forever. */
  private remember<T extends object>(map: Map<string, T>, key: string, value: T): T {
    if (map.size >= SqliteStore.CACHE_MAX) map.delete(map.keys().next().value as string);
    Object.freeze(value);
    for (const v of Object.values(value)) if (v && typeof v === 'object') Object.freeze(v);
    map.set(key, value);
    return value;
  }

  /** Moves WAL checkpoints of this file onto a worker thread (see sqlite-checkpointer.ts). */
  checkpointInBackground(path: string, onError?: (message: string) => void): void {
    this.checkpointer ??= new BackgroundCheckpointer(this.db, path, { onError });
  }

  /** Returns the schema version (number of migrations applied). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private row(name: string): System | null {
    const r = this.sql('SELECT * FROM systems WHERE name = ?').get(name) as Row | undefined;
    return r ? this.toSystem(r) : null;
  }

  private toSystem(r: Row): System {
    const macs = (this.sql('SELECT mac FROM system_macs WHERE system = ? ORDER BY position').all(r.name) as Row[]).map((m) => String(m.mac));
    return {
      name: String(r.name),
      displayName: (r.display_name as string | null) ?? null,
      macs,
      ip: (r.ip as string | null) ?? null,
      hostname: (r.hostname as string | null) ?? null,
      profile: (r.profile as string | null) ?? null,
      overrides: JSON.parse(String(r.overrides)) as Record<string, unknown>,
      build: r.build === 1,
      state: r.state as System['state'],
      stage: (r.stage as string | null) ?? null,
      run: Number(r.run),
      token: (r.token as string | null) ?? null,
      tokenExpiresAt: (r.token_expires_at as number | null) ?? null,
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      stateChangedAt: Number(r.state_changed_at),
      lastEventAt: (r.last_event_at as number | null) ?? null,
    };
  }

  /** Converts SQLite constraint errors into ConflictError naming the clashing value. */
  private guard<T>(fn: () => T, what: { name?: string; macs?: string[]; ip?: string | null }): T {
    try {
      return fn();
    } catch (err) {
      const msg = (err as Error).message;
      if (msg.includes('UNIQUE constraint failed: systems.name')) throw new ConflictError(`a system named ${JSON.stringify(what.name)} already exists`, 'name');
      if (msg.includes('UNIQUE constraint failed: system_macs.mac')) throw new ConflictError(`MAC address already belongs to another system (${(what.macs ?? []).join(', ')})`, 'macs');
      if (msg.includes('UNIQUE constraint failed: systems.ip')) throw new ConflictError(`IP address ${JSON.stringify(what.ip)} already belongs to another system`, 'ip');
      throw err;
    }
  }

  private writeMacs(name: string, macs: string[]): void {
    this.sql('DELETE FROM system_macs WHERE system = ?').run(name);
    const ins = this.sql('INSERT INTO system_macs (mac, system, position) VALUES (?, ?, ?)');
    macs.forEach((mac, i) => ins.run(mac, name, i));
  }

  async createSystem(input: NewSystem, now: number): Promise<System> {
    return this.guard(
      () =>
        this.db.transaction(() => {
          this.sql(
            `INSERT INTO systems (name, display_name, ip, hostname, profile, overrides, build, state, run, created_at, updated_at, state_changed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
          ).run(input.name, input.displayName ?? null, input.ip ?? null, input.hostname ?? null, input.profile, JSON.stringify(input.overrides ?? {}), input.build ? 1 : 0, input.state ?? 'registered', now, now, now);
          this.writeMacs(input.name, input.macs);
          this.dirtySystem(input.name, { macs: true });
          return this.row(input.name)!;
        })(),
      input,
    );
  }

  async getSystem(name: string): Promise<System | null> {
    this.fresh();
    const hit = this.cache.systems.get(name);
    if (hit) return hit;
    const s = this.row(name);
    return s ? this.remember(this.cache.systems, name, s) : null;
  }

  async listSystems(): Promise<System[]> {
    return (this.sql('SELECT * FROM systems ORDER BY name').all() as Row[]).map((r) => this.toSystem(r));
  }

  async listSystemsPage(q: SystemQuery): Promise<System[]> {
    const where: string[] = ['name > ?'];
    const values: unknown[] = [q.after ?? ''];
    if (q.states) {
      if (q.states.length === 0) return [];
      where.push(`state IN (${q.states.map(() => '?').join(',')})`);
      values.push(...q.states);
    }
    if (q.search) {
      // LIKE is case-insensitive for ASCII; the search text's own % and _ match themselves.
      const like = `%${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const has = (col: string) => `${col} LIKE ? ESCAPE '\\'`;
      where.push(`(${has('name')} OR ${has('hostname')} OR ${has('ip')} OR name IN (SELECT system FROM system_macs WHERE ${has('mac')}))`);
      values.push(like, like, like, like);
    }
    values.push(q.limit);
    return (this.sql(`SELECT * FROM systems WHERE ${where.join(' AND ')} ORDER BY name LIMIT ?`).all(...values) as Row[]).map((r) => this.toSystem(r));
  }

  async findSystemsByMacs(macs: string[]): Promise<System[]> {
    if (macs.length === 0) return [];
    // One MAC (DHCP, TFTP menus, iPXE): its owner from the cache, the system from getSystem's.
    if (macs.length === 1) {
      this.fresh();
      const mac = macs[0]!;
      let owner = this.cache.macs.get(mac);
      if (owner === undefined) {
        owner = (this.sql('SELECT system FROM system_macs WHERE mac = ?').pluck().get(mac) as string | undefined) ?? null;
        if (this.cache.macs.size >= SqliteStore.CACHE_MAX) this.cache.macs.delete(this.cache.macs.keys().next().value as string);
        this.cache.macs.set(mac, owner);
      }
      const s = owner === null ? null : await this.getSystem(owner);
      return s ? [s] : [];
    }
    const rows = this.sql(`SELECT DISTINCT system FROM system_macs WHERE mac IN (${macs.map(() => '?').join(',')}) ORDER BY system`).all(...macs) as Row[];
    return rows.map((r) => this.row(String(r.system))!);
  }

  async findSystemByIp(ip: string): Promise<System | null> {
    const r = this.sql('SELECT * FROM systems WHERE ip = ?').get(ip) as Row | undefined;
    return r ? this.toSystem(r) : null;
  }

  private applyPatch(name: string, patch: SystemPatch, now: number): void {
    const sets: string[] = ['updated_at = ?'];
    const values: unknown[] = [now];
    for (const [k, v] of Object.entries(patch) as Array<[keyof SystemPatch, unknown]>) {
      if (k === 'macs' || v === undefined) continue;
      sets.push(`${PATCH_COLUMNS[k]} = ?`);
      values.push(k === 'overrides' ? JSON.stringify(v) : k === 'build' ? (v ? 1 : 0) : v);
    }
    const r = this.sql(`UPDATE systems SET ${sets.join(', ')} WHERE name = ?`).run(...values, name);
    if (r.changes === 0) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    if (patch.macs) this.writeMacs(name, patch.macs);
  }

  async updateSystem(name: string, patch: SystemPatch, now: number): Promise<System> {
    return this.guard(
      () =>
        this.db.transaction(() => {
          this.applyPatch(name, patch, now);
          this.dirtySystem(name, { macs: patch.macs !== undefined });
          return this.row(name)!;
        })(),
      { macs: patch.macs, ip: patch.ip },
    );
  }

  async renameSystem(name: string, newName: string, now: number): Promise<System> {
    return this.db.transaction(() => {
      if (!this.row(name)) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
      if (this.row(newName)) throw new ConflictError(`a system named ${JSON.stringify(newName)} exists`, 'name');
      // MACs, tokens and events follow through ON UPDATE CASCADE.
      this.sql('UPDATE systems SET name = ?, updated_at = ? WHERE name = ?').run(newName, now, name);
      this.dirty();
      return this.row(newName)!;
    })();
  }

  async deleteSystem(name: string): Promise<boolean> {
    this.dirty();
    return this.sql('DELETE FROM systems WHERE name = ?').run(name).changes > 0;
  }

  /**
   * Applies one lifecycle transition atomically. The first write of a turn of the event loop
   * commits at once; transitions (and token bindings) asked for after it in the same turn are
   * committed together on the next turn (group commit, at most maxBatch): each runs
   * in a savepoint of its own, so one that throws is rolled back alone and the others still commit,
   * and every caller learns its result only once the commit holding it is done. In a boot storm the COMMIT (WAL page
   * writes) was most of each transition's cost; shared, it is paid once per batch.
   */
  transition(name: string, now: number, decide: (s: System) => Transition | null): Promise<TransitionResult> {
    return this.batched(
      () => this.transact(name, now, decide),
      // The row read inside the transaction is the freshest there is: the next read of it is a hit.
      (r) => void (this.cache.systems.has(name) || this.remember(this.cache.systems, name, r.system)),
    );
  }

  /** Queues one write (a transaction function: nested, it runs in a savepoint) for the next group commit. */
  private batched<T>(write: () => T, committed?: (r: T) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, committed, resolve, reject } as PendingWrite);
      if (this.pending.length > 1) return; // the next commit is already scheduled
      if (!this.committedThisTurn) {
        // The first write of a turn commits at once, as a lone transaction always did (an API
        // call's create-then-arm stays back to back); the writes that follow it in the same turn
        // (a storm's requests, read from many sockets in one poll) wait and share the next commit.
        this.committedThisTurn = true;
        setImmediate(() => (this.committedThisTurn = false));
        this.commitPending();
        return;
      }
      setImmediate(() => this.commitPending());
    });
  }

  /** Runs the queued writes, up to maxBatch in one transaction; the rest wait for the next turn. */
  private commitPending(): void {
    const batch = this.pending.splice(0, this.maxBatch);
    if (this.pending.length > 0) setImmediate(() => this.commitPending());
    if (batch.length === 0) return;
    const results: Array<{ ok: true; r: unknown } | { ok: false; err: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const w of batch) {
          try {
            results.push({ ok: true, r: w.write() });
          } catch (err) {
            results.push({ ok: false, err });
          }
        }
      })();
    } catch (err) {
      // The commit failed: nothing of the batch was written.
      this.dirty();
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const out = results[i]!;
      if (!out.ok) return w.reject(out.err);
      w.committed?.(out.r);
      w.resolve(out.r);
    });
  }

  private transact(name: string, now: number, decide: (s: System) => Transition | null): TransitionResult {
    return this.db.transaction((): TransitionResult => {
      const before = this.row(name);
      if (!before) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
      const t = decide(before);
      if (!t) return { system: before, event: null, changed: false };
      this.dirtySystem(name, { macs: t.patch?.macs !== undefined, tokens: t.retireTokensAt !== undefined });
      if (t.retireTokensAt !== undefined) {
        this.sql('UPDATE tokens SET retired_at = ? WHERE system = ? AND retired_at IS NULL').run(t.retireTokensAt, name);
      }
      if (t.issueToken) {
        const k = t.issueToken;
        this.sql('INSERT INTO tokens (token, system, run, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(k.token, name, k.run, k.createdAt, k.expiresAt);
      }
      if (t.patch) this.applyPatch(name, t.patch, now);
      let event: InstallEvent | null = null;
      if (t.event) event = this.insertEvent(name, t.event);
      return { system: this.row(name)!, event, changed: true };
    })();
  }

  private insertEvent(name: string, e: NewEvent): InstallEvent {
    const r = this.sql('INSERT INTO events (system, run, time, stage, message, source, log) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(name, e.run, e.time, e.stage, e.message, e.source, e.log);
    return { id: Number(r.lastInsertRowid), system: name, ...e };
  }

  async findToken(token: string): Promise<TokenRecord | null> {
    this.fresh();
    const hit = this.cache.tokens.get(token);
    if (hit) return hit;
    const r = this.sql('SELECT * FROM tokens WHERE token = ?').get(token) as Row | undefined;
    if (!r) return null;
    const system = String(r.system);
    let toks = this.cache.tokensOf.get(system);
    if (!toks) this.cache.tokensOf.set(system, (toks = new Set()));
    // An evicted token may stay named here: dropping a name that is no longer cached is harmless.
    toks.add(token);
    return this.remember(this.cache.tokens, token, {
      token: String(r.token),
      system: String(r.system),
      run: Number(r.run),
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
      retiredAt: (r.retired_at as number | null) ?? null,
      boundIp: (r.bound_ip as string | null) ?? null,
    });
  }

  bindToken(token: string, ip: string): Promise<string | null> {
    // Every first fetch binds its run: committed with the transitions of the same turn.
    return this.batched(this.db.transaction(() => {
      if (this.sql('UPDATE tokens SET bound_ip = ? WHERE token = ? AND bound_ip IS NULL').run(ip, token).changes > 0) this.cache.tokens.delete(token);
      return (this.sql('SELECT bound_ip FROM tokens WHERE token = ?').pluck().get(token) as string | null | undefined) ?? null;
    }));
  }

  async countEvents(name: string, run: number, stages?: readonly string[]): Promise<number> {
    if (!stages) return this.sql('SELECT COUNT(*) FROM events WHERE system = ? AND run = ?').pluck().get(name, run) as number;
    if (stages.length === 0) return 0;
    return this.sql(`SELECT COUNT(*) FROM events WHERE system = ? AND run = ? AND stage IN (${stages.map(() => '?').join(',')})`).pluck().get(name, run, ...stages) as number;
  }

  async trimLogs(name: string, maxBytes: number): Promise<number> {
    // Newest first, keep logs while the running total fits; drop the rest.
    return this.sql(
      `UPDATE events SET log = NULL WHERE id IN (
         SELECT id FROM (SELECT id, SUM(LENGTH(CAST(log AS BLOB))) OVER (ORDER BY id DESC) AS total FROM events WHERE system = ? AND log IS NOT NULL)
         WHERE total > ?)`,
    ).run(name, maxBytes).changes;
  }

  async countSystems(stalledBefore: number): Promise<SystemCounts> {
    const byState = Object.fromEntries(SYSTEM_STATES.map((s) => [s, 0])) as SystemCounts['byState'];
    // system_counts is kept by triggers (migration 4): a few rows, whatever the number of systems.
    for (const r of this.sql('SELECT state, n FROM system_counts').all() as Row[]) {
      if (String(r.state) in byState) byState[r.state as keyof typeof byState] = Number(r.n);
    }
    // The quiet ones are index ranges (migration 4): installing, and armed with pxe as the last step.
    const stalledInstalling = this.sql("SELECT COUNT(*) FROM systems WHERE state = 'installing' AND COALESCE(last_event_at, state_changed_at) < ?").pluck().get(stalledBefore) as number;
    const stalledArmed = this.sql("SELECT COUNT(*) FROM systems INDEXED BY systems_pxe_quiet WHERE state = 'build' AND stage = 'pxe' AND COALESCE(last_event_at, state_changed_at) < ?").pluck().get(stalledBefore) as number;
    return { byState, stalled: stalledInstalling + stalledArmed, stalledInstalling };
  }

  async findLeases(macs: string[]): Promise<DhcpLeaseRecord[]> {
    if (macs.length === 0) return [];
    return (this.sql(`SELECT * FROM leases WHERE mac IN (${macs.map(() => '?').join(',')}) ORDER BY mac, ip`).all(...macs) as Row[]).map(leaseRow);
  }

  async listEvents(name: string, options: { run?: number; limit?: number } = {}): Promise<InstallEvent[]> {
    const where = options.run === undefined ? 'system = ?' : 'system = ? AND run = ?';
    const args: unknown[] = options.run === undefined ? [name] : [name, options.run];
    const limit = options.limit ?? 10_000;
    const rows = this.sql(`SELECT * FROM (SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT ?) ORDER BY id`).all(...args, limit) as Row[];
    return rows.map((r) => ({
      id: Number(r.id),
      system: String(r.system),
      run: Number(r.run),
      time: Number(r.time),
      stage: String(r.stage),
      message: (r.message as string | null) ?? null,
      source: (r.source as string | null) ?? null,
      log: (r.log as string | null) ?? null,
    }));
  }

  private toPower(r: Row): PowerSettingsRecord {
    return {
      system: String(r.system),
      driver: (r.driver as string | null) ?? null,
      address: (r.address as string | null) ?? null,
      user: (r.username as string | null) ?? null,
      secret: (r.secret as string | null) ?? null,
      options: JSON.parse(String(r.options)) as Record<string, unknown>,
      updatedAt: Number(r.updated_at),
    };
  }

  async getPowerSettings(name: string): Promise<PowerSettingsRecord | null> {
    const r = this.sql('SELECT * FROM power_settings WHERE system = ?').get(name) as Row | undefined;
    return r ? this.toPower(r) : null;
  }

  async listPowerSettings(): Promise<PowerSettingsRecord[]> {
    return (this.sql('SELECT * FROM power_settings ORDER BY system').all() as Row[]).map((r) => this.toPower(r));
  }

  async setPowerSettings(p: Omit<PowerSettingsRecord, 'updatedAt'>, now: number): Promise<PowerSettingsRecord> {
    return this.db.transaction(() => {
      if (!this.sql('SELECT 1 FROM systems WHERE name = ?').get(p.system)) throw new NotFoundError(`no system named ${JSON.stringify(p.system)}`);
      this.sql(
        `INSERT INTO power_settings (system, driver, address, username, secret, options, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(system) DO UPDATE SET driver = excluded.driver, address = excluded.address, username = excluded.username,
           secret = excluded.secret, options = excluded.options, updated_at = excluded.updated_at`,
      ).run(p.system, p.driver, p.address, p.user, p.secret, JSON.stringify(p.options), now);
      return { ...p, options: structuredClone(p.options), updatedAt: now };
    })();
  }

  async deletePowerSettings(name: string): Promise<boolean> {
    return this.sql('DELETE FROM power_settings WHERE system = ?').run(name).changes > 0;
  }

  async loadLeases(): Promise<DhcpLeaseRecord[]> {
    return (this.sql('SELECT * FROM leases ORDER BY ip').all() as Row[]).map(leaseRow);
  }

  async saveLeases(leases: DhcpLeaseRecord[]): Promise<void> {
    const up = this.sql(
      `INSERT INTO leases (ip, mac, hostname, state, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, hostname = excluded.hostname, state = excluded.state,
         expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const l of leases) up.run(l.ip, l.mac, l.hostname, l.state, l.expiresAt, l.updatedAt);
    })();
  }

  async claimLeases(leases: DhcpLeaseRecord[], now: number): Promise<string[]> {
    const at = this.sql('SELECT * FROM leases WHERE ip = ?');
    const up = this.sql(
      `INSERT INTO leases (ip, mac, hostname, state, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, hostname = excluded.hostname, state = excluded.state,
         expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    );
    const free = this.sql(
      `UPDATE leases SET state = 'released', expires_at = ?, updated_at = ? WHERE mac = ? AND ip <> ? AND state IN ('offered', 'bound')`,
    );
    return this.db.transaction(() => {
      const refused: string[] = [];
      for (const l of leases) {
        const row = at.get(l.ip) as Row | undefined;
        if (!leaseWriteAllowed(row ? leaseRow(row) : undefined, l, now)) {
          refused.push(l.ip);
          continue;
        }
        up.run(l.ip, l.mac, l.hostname, l.state, l.expiresAt, l.updatedAt);
        if (l.state === 'offered' || l.state === 'bound') free.run(now, now, l.mac, l.ip);
      }
      return refused;
    })();
  }

  async close(): Promise<void> {
    while (this.pending.length > 0) this.commitPending();
    await this.checkpointer?.stop();
    this.db.close();
  }
}

/** Returns a lease row as the DHCP module's record. */
function leaseRow(r: Row): DhcpLeaseRecord {
  return {
    mac: String(r.mac),
    ip: String(r.ip),
    hostname: (r.hostname as string | null) ?? null,
    state: r.state as DhcpLeaseRecord['state'],
    expiresAt: Number(r.expires_at),
    updatedAt: Number(r.updated_at),
  };
}
