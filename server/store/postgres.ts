// The PostgreSQL Store, for several instances on one database: a connection pool, numbered
// migrations, each transition one transaction holding the system's row lock (two instances taking
// the same `built` report make one transition), leases claimed by address in the database itself,
// and a read cache kept honest by LISTEN/NOTIFY (see read-cache.ts and pg-notify.ts).
import pg from 'pg';
import { ConflictError, NotFoundError, StoreError } from '../errors.ts';
import { MacBatcher } from './mac-batcher.ts';
import { dep, invalidateChanges, type PgStoreOptions, type SystemChange } from './pg-base.ts';
import { CHANNEL } from './pg-notify.ts';
import { PgRecords } from './pg-records.ts';
import { isRetryable, isUnreachable, SYSTEM_COLUMNS, toSystem, toToken, type Row } from './pg-rows.ts';
import { checkPgUrl, redactUrl } from './pg-url.ts';
import { checkWritable, migrate } from './pg-schema.ts';
import { lockSql, writeSql } from './pg-transition.ts';
import { PATCH_COLUMNS, type InstallEvent, type NewSystem, type Store, type System, type SystemPatch, type TokenRecord, type Transition } from './types.ts';

export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_POOL_SIZE, DEFAULT_QUERY_TIMEOUT_MS, type PgStoreOptions } from './pg-base.ts';

/** Connects, checks the database is writable, migrates it and starts listening; throws StoreError or ConfigError with one clear line. */
export async function openPgStore(o: PgStoreOptions): Promise<PgStore> {
  checkPgUrl(o.url);
  const where = redactUrl(o.url);
  const store = new PgStore(o);
  try {
    let c: pg.PoolClient;
    try {
      c = await store.pool.connect();
    } catch (err) {
      throw new StoreError(`store: cannot connect to PostgreSQL at ${where}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await checkWritable(c, where);
      store.version = await migrate(c, where);
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(`store: PostgreSQL at ${where}: ${(err as Error).message}`, { cause: err });
    } finally {
      c.release();
    }
    await store.startFeed();
    return store;
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Binds a token to $2 unless it is bound already; for a binding it makes, returns the token's system
 * and tells other instances its tokens changed ($3 = channel, $4 = this instance), in one round trip.
 */
const BIND_TOKEN_SQL = `
  WITH b AS (UPDATE tokens SET bound_ip = $2 WHERE token = $1 AND bound_ip IS NULL RETURNING *)
  SELECT b.*, pg_notify($3, json_build_object('i', $4::text, 's', json_build_array(system), 't', json_build_array(system))::text) FROM b`;

/** PostgreSQL implementation of Store. */
export class PgStore extends PgRecords implements Store {
  private readonly macs = new MacBatcher((macs) => this.loadMacs(macs));

  private async row(c: pg.ClientBase | pg.Pool, name: string): Promise<System | null> {
    const r = await c.query<Row>({ name: 'ks_system', text: `SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.name = $1`, values: [name] });
    return r.rows[0] ? toSystem(r.rows[0]) : null;
  }

  /** Converts unique violations into ConflictError naming the clashing value. */
  private conflict(err: unknown, what: { name?: string; macs?: string[]; ip?: string | null }): never {
    const e = err as { code?: string; constraint?: string; cause?: unknown };
    const inner = (e?.code === undefined && e?.cause ? e.cause : err) as { code?: string; constraint?: string };
    if (inner?.code === '23505') {
      if (inner.constraint === 'systems_pkey') throw new ConflictError(`a system named ${JSON.stringify(what.name)} already exists`, 'name');
      if (inner.constraint === 'system_macs_pkey') throw new ConflictError(`MAC address already belongs to another system (${(what.macs ?? []).join(', ')})`, 'macs');
      if (inner.constraint === 'systems_ip_key') throw new ConflictError(`IP address ${JSON.stringify(what.ip)} already belongs to another system`, 'ip');
    }
    throw err;
  }

  private async writeMacs(c: pg.ClientBase, name: string, macs: string[]): Promise<void> {
    await c.query('DELETE FROM system_macs WHERE system = $1', [name]);
    if (macs.length > 0) {
      await c.query('INSERT INTO system_macs (mac, system, position) SELECT m, $2, p - 1 FROM unnest($1::text[]) WITH ORDINALITY AS t(m, p)', [macs, name]);
    }
  }

  async createSystem(input: NewSystem, now: number): Promise<System> {
    try {
      return await this.tx(async (c, touched) => {
        touched.mark(input.name, { tokens: true, membership: true });
        await c.query(
          `INSERT INTO systems (name, display_name, ip, hostname, profile, overrides, build, state, run, created_at, updated_at, state_changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $9)`,
          [input.name, input.displayName ?? null, input.ip ?? null, input.hostname ?? null, input.profile, JSON.stringify(input.overrides ?? {}), input.build ?? false, input.state ?? 'registered', now],
        );
        await this.writeMacs(c, input.name, input.macs);
        const s = (await this.row(c, input.name))!;
        touched.after.push(s);
        return s;
      });
    } catch (err) {
      return this.conflict(err, input);
    }
  }

  async getSystem(name: string): Promise<System | null> {
    const key = `s:${name}`;
    // The boot path's hit: no closure, no second await.
    const hit = this.cache.get<System | null>(key);
    if (hit !== undefined) return hit;
    return this.cached(key, async () => {
      this.checkUp();
      try {
        return { value: await this.row(this.pool, name), deps: [dep.row(name)] };
      } catch (err) {
        return this.fail(err);
      }
    });
  }

  async listSystems(): Promise<System[]> {
    return (await this.query(`SELECT ${SYSTEM_COLUMNS} FROM systems s ORDER BY s.name COLLATE "C"`)).rows.map(toSystem);
  }

  /**
   * Looks systems up by a key whose cached answer is their names only (MACs and addresses change
   * rarely; rows with every report), then each system by name from the cache.
   */
  private async lookup(key: string, text: string, values: unknown[]): Promise<System[]> {
    let names = this.cache.get<string[]>(key);
    if (names === undefined) {
      const gen = this.cache.begin();
      let rows: System[];
      try {
        rows = (await this.query(text, values)).rows.map(toSystem);
      } catch (err) {
        const stale = this.cache.stale<string[]>(key);
        if (!(err instanceof StoreError) || stale === undefined) throw err;
        names = stale;
        rows = [];
      }
      if (names === undefined) {
        for (const r of rows) this.cache.put(`s:${r.name}`, r, [dep.row(r.name)], gen);
        this.cache.put(key, rows.map((r) => r.name), rows.map((r) => dep.member(r.name)), gen);
        return rows;
      }
    }
    return this.systemsNamed(names);
  }

  /** Returns the systems of these names, each from the cache where it can. */
  private async systemsNamed(names: readonly string[]): Promise<System[]> {
    const out: System[] = [];
    for (const n of names) {
      const s = await this.getSystem(n);
      if (s) out.push(s);
    }
    return out;
  }

  async findSystemsByMacs(macs: string[]): Promise<System[]> {
    if (macs.length === 0) return [];
    if (macs.length > 1) return this.lookup(`m:${macs.join(',')}`, `SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.name IN (SELECT system FROM system_macs WHERE mac = ANY($1::text[])) ORDER BY s.name`, [macs]);
    const key = `m:${macs[0]}`;
    const names = this.cache.get<string[]>(key);
    if (names !== undefined) return this.systemsNamed(names);
    try {
      return await this.macs.get(macs[0]!);
    } catch (err) {
      // The database is out of reach: answer from what was read before, if anything.
      const stale = this.cache.stale<string[]>(key);
      if (!(err instanceof StoreError) || stale === undefined) throw err;
      return this.systemsNamed(stale);
    }
  }

  /** Looks up many single MACs in one query (the MacBatcher's loader), caching each answer. */
  private async loadMacs(macs: string[]): Promise<Map<string, System[]>> {
    const gen = this.cache.begin();
    const r = await this.query(`SELECT m.mac AS lookup_mac, ${SYSTEM_COLUMNS} FROM system_macs m JOIN systems s ON s.name = m.system WHERE m.mac = ANY($1::text[])`, [macs], 'ks_macs');
    const found = new Map<string, System[]>();
    for (const row of r.rows) {
      const sys = toSystem(row);
      this.cache.put(`s:${sys.name}`, sys, [dep.row(sys.name)], gen);
      found.set(String(row.lookup_mac), [...(found.get(String(row.lookup_mac)) ?? []), sys]);
    }
    for (const mac of macs) {
      const systems = found.get(mac) ?? [];
      this.cache.put(`m:${mac}`, systems.map((x) => x.name), systems.map((x) => dep.member(x.name)), gen);
    }
    return found;
  }

  async findSystemByIp(ip: string): Promise<System | null> {
    return (await this.lookup(`i:${ip}`, `SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.ip = $1`, [ip]))[0] ?? null;
  }

  private async applyPatch(c: pg.ClientBase, name: string, patch: SystemPatch, now: number): Promise<void> {
    const sets: string[] = ['updated_at = $1'];
    const values: unknown[] = [now];
    for (const [k, v] of Object.entries(patch) as Array<[keyof SystemPatch, unknown]>) {
      if (k === 'macs' || v === undefined) continue;
      values.push(k === 'overrides' ? JSON.stringify(v) : v);
      sets.push(`${PATCH_COLUMNS[k]} = $${values.length}`);
    }
    values.push(name);
    const r = await c.query(`UPDATE systems SET ${sets.join(', ')} WHERE name = $${values.length}`, values);
    if (r.rowCount === 0) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    if (patch.macs) await this.writeMacs(c, name, patch.macs);
  }

  async updateSystem(name: string, patch: SystemPatch, now: number): Promise<System> {
    try {
      return await this.tx(async (c, touched) => {
        touched.mark(name, { membership: patch.macs !== undefined || patch.ip !== undefined });
        await this.applyPatch(c, name, patch, now);
        const s = (await this.row(c, name))!;
        touched.after.push(s);
        return s;
      });
    } catch (err) {
      return this.conflict(err, { macs: patch.macs, ip: patch.ip });
    }
  }

  async renameSystem(name: string, newName: string, now: number): Promise<System> {
    try {
      return await this.tx(async (c, touched) => {
        const old = await c.query('SELECT name FROM systems WHERE name = $1 FOR UPDATE', [name]);
        if (old.rowCount === 0) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
        if ((await c.query('SELECT 1 FROM systems WHERE name = $1', [newName])).rowCount) throw new ConflictError(`a system named ${JSON.stringify(newName)} exists`, 'name');
        // MACs, tokens, events and power settings follow through ON UPDATE CASCADE.
        await c.query('UPDATE systems SET name = $2, updated_at = $3 WHERE name = $1', [name, newName, now]);
        touched.mark(name, { tokens: true, membership: true });
        touched.mark(newName, { tokens: true, membership: true });
        const s = (await this.row(c, newName))!;
        touched.after.push(s);
        return s;
      });
    } catch (err) {
      return this.conflict(err, { name: newName });
    }
  }

  async deleteSystem(name: string): Promise<boolean> {
    return this.tx(async (c, touched) => {
      const r = await c.query('DELETE FROM systems WHERE name = $1', [name]);
      if (r.rowCount === 0) return false;
      touched.mark(name, { tokens: true, membership: true });
      return true;
    });
  }

  async transition(name: string, now: number, decide: (s: System) => Transition | null) {
    // Two round trips (pg-transition.ts): lock and read, then every write with NOTIFY and COMMIT.
    for (let attempt = 1; ; attempt++) {
      this.checkUp();
      let c: pg.PoolClient;
      try {
        c = await this.pool.connect();
      } catch (err) {
        return this.fail(err);
      }
      let broken: unknown = null;
      let wrote = false;
      let change: SystemChange | null = null;
      let after: System | null = null;
      try {
        // The row lock makes concurrent transitions of one system (on any instance) take turns, each deciding on the state the previous one left.
        const locked = (await c.query(lockSql(name))) as unknown as pg.QueryResult<Row>[];
        const row = locked[1]?.rows[0];
        if (!row) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
        const before = toSystem(row);
        const t = decide(before);
        if (!t) {
          await c.query('ROLLBACK');
          return { system: before, event: null as InstallEvent | null, changed: false };
        }
        wrote = true;
        change = { name, tokens: t.retireTokensAt !== undefined || t.issueToken !== undefined, membership: t.patch?.macs !== undefined || t.patch?.ip !== undefined };
        const w = writeSql(name, t, change, now, this.instanceId);
        const results = (await c.query(w.sql)) as unknown as pg.QueryResult<Row>[];
        after = w.afterResult === null ? before : toSystem(results[w.afterResult]!.rows[0]!);
        const event = w.eventResult === null || !t.event ? null : { id: Number(results[w.eventResult]!.rows[0]!.id), system: name, ...t.event };
        return { system: after, event, changed: true };
      } catch (err) {
        after = null;
        if (isUnreachable(err)) broken = err;
        else await c.query('ROLLBACK').catch((e: unknown) => (broken = e));
        if (isRetryable(err) && attempt < 3) continue;
        return this.fail(err);
      } finally {
        c.release(broken ? (broken as Error) : undefined);
        if (wrote && change) invalidateChanges(this.cache, [change]);
        if (after) this.remember([after]);
      }
    }
  }

  async findToken(token: string): Promise<TokenRecord | null> {
    const hit = this.cache.get<TokenRecord>(`t:${token}`);
    if (hit) return hit;
    // Unknown tokens are not remembered: anyone can ask for any number of them.
    const gen = this.cache.begin();
    let r: pg.QueryResult<Row>;
    try {
      r = await this.query('SELECT * FROM tokens WHERE token = $1', [token], 'ks_token');
    } catch (err) {
      const stale = this.cache.stale<TokenRecord>(`t:${token}`);
      if (stale && err instanceof StoreError) return stale;
      throw err;
    }
    if (!r.rows[0]) return null;
    const t = toToken(r.rows[0]);
    return this.cache.put(`t:${token}`, t, [dep.tokens(t.system)], gen);
  }

  async bindToken(token: string, ip: string): Promise<string | null> {
    const bound = await this.query(BIND_TOKEN_SQL, [token, ip, CHANNEL, this.instanceId], 'ks_bind_token');
    if (bound.rows[0]) {
      const t = toToken(bound.rows[0]);
      invalidateChanges(this.cache, [{ name: t.system, tokens: true, membership: false }]);
      // Cache the token as bound: its next fetch (anaconda asks twice) then needs no database at all.
      this.cache.put(`t:${token}`, t, [dep.tokens(t.system)], this.cache.begin());
      return ip;
    }
    // Bound before (or just now by another instance, whose commit this new statement sees), or unknown.
    const r = await this.query('SELECT bound_ip FROM tokens WHERE token = $1', [token], 'ks_token_bound');
    return r.rows[0] ? ((r.rows[0].bound_ip as string | null) ?? null) : null;
  }
}
