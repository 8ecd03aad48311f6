// The PostgreSQL Store, for several instances on one database: a connection pool, numbered
// migrations, each transition one transaction holding the system's row lock (two instances taking
// the same `built` report make one transition), leases claimed by address in the database itself,
// and a read cache kept honest by LISTEN/NOTIFY (see read-cache.ts and pg-notify.ts).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { ConflictError, NotFoundError, StoreError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DhcpLeaseRecord } from './leases.ts';
import { ReadCache } from './read-cache.ts';
import { CHANNEL, ChangeFeed, encodeNotice, type ChangeNotice } from './pg-notify.ts';
import { checkPgUrl, isReadOnly, isRetryable, isUnreachable, PG_TYPES, redactUrl, SYSTEM_COLUMNS, toEvent, toLease, toSystem, toToken, type Row } from './pg-rows.ts';
import { checkWritable, migrate } from './pg-schema.ts';
import { CLAIM_LEASES_SQL, HEARTBEAT_SQL, SAVE_LEASES_SQL, leaseArrays, uniqueByIp } from './pg-leases.ts';
import type { InstallEvent, InstanceBeat, NewEvent, NewSystem, RemoteChange, Store, System, SystemPatch, TokenRecord, Transition } from './types.ts';

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
/** After the database was found out of reach, calls fail at once for this long instead of each waiting for a timeout. */
export const DEFAULT_RETRY_AFTER_MS = 1000;

export interface PgStoreOptions {
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  /** Longest a statement may run (server side) before it fails. */
  queryTimeoutMs?: number;
  /** LISTEN for other instances' changes and trust the read cache while listening (false: one-shot CLI commands). */
  listen?: boolean;
  log?: Logger;
  retryAfterMs?: number;
  /** How often the change feed reconnects and checks its connection. */
  feedRetryMs?: number;
  feedPingMs?: number;
}

const COLUMNS: Record<Exclude<keyof SystemPatch, 'macs'>, string> = {
  ip: 'ip',
  hostname: 'hostname',
  profile: 'profile',
  overrides: 'overrides',
  build: 'build',
  state: 'state',
  stage: 'stage',
  run: 'run',
  token: 'token',
  tokenExpiresAt: 'token_expires_at',
  stateChangedAt: 'state_changed_at',
  lastEventAt: 'last_event_at',
};

/** What a write transaction touched, sent over NOTIFY before it commits and dropped from the cache after. */
class Touched {
  readonly systems = new Set<string>();
  readonly events: InstallEvent[] = [];
  /** Systems as the transaction left them: cached once it commits, so the cache holds what this instance wrote. */
  readonly after: System[] = [];
}

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

/** PostgreSQL implementation of Store. */
export class PgStore implements Store {
  readonly pool: pg.Pool;
  /** This process's id in NOTIFY payloads (its own notices are not delivered back). */
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  version = 0;
  private readonly cache = new ReadCache();
  private readonly listeners = new Set<(c: RemoteChange) => void>();
  private feed: ChangeFeed | null = null;
  private downUntil = 0;
  private downReason = '';
  private closed = false;
  private readonly where: string;

  constructor(private readonly o: PgStoreOptions) {
    this.where = redactUrl(o.url);
    const queryTimeoutMs = o.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.pool = new pg.Pool({
      connectionString: o.url,
      max: o.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      statement_timeout: queryTimeoutMs,
      // The client gives up a little after the server would, so a peer gone silent cannot hold a request forever.
      query_timeout: queryTimeoutMs + 1000,
      keepAlive: true,
      application_name: 'kickstand',
      types: PG_TYPES,
    });
    // An idle connection dropped by the server must not crash the process; the next use reconnects.
    this.pool.on('error', (err) => this.o.log?.warn({ err: err.message }, 'store: idle PostgreSQL connection lost'));
  }

  /** Starts the change feed (when listening); the cache is trusted only while it runs. */
  async startFeed(): Promise<void> {
    if (this.o.listen === false) return;
    const params = this.pool.options as pg.PoolConfig;
    this.feed = new ChangeFeed({
      client: { connectionString: params.connectionString, connectionTimeoutMillis: params.connectionTimeoutMillis, application_name: 'kickstand-listen' },
      instance: this.instanceId,
      retryMs: this.o.feedRetryMs,
      pingMs: this.o.feedPingMs,
      onNotice: (n) => this.onNotice(n),
      onState: (up, reason) => {
        this.cache.setTrusted(up);
        if (up) this.downUntil = 0;
        this.o.log?.[up ? 'info' : 'warn']({ reason }, up ? 'store: change feed listening' : 'store: change feed lost; reading through to PostgreSQL until it is back');
      },
    });
    try {
      await this.feed.start();
    } catch (err) {
      throw new StoreError(`store: cannot LISTEN on PostgreSQL at ${this.where}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Returns whether the read cache is trusted (the change feed is listening). */
  get cacheTrusted(): boolean {
    return this.cache.isTrusted;
  }

  /** Returns the schema version (number of migrations applied). */
  schemaVersion(): number {
    return this.version;
  }

  onRemoteChange(fn: (c: RemoteChange) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private onNotice(n: ChangeNotice): void {
    if (n.all) this.cache.drop();
    else this.cache.invalidate(n.s ?? []);
    const change: RemoteChange = { systems: n.s ?? [], events: n.e ?? [] };
    for (const fn of [...this.listeners]) {
      try {
        fn(change);
      } catch (err) {
        this.o.log?.warn({ err: (err as Error).message }, 'store: a change listener failed');
      }
    }
  }

  /** Turns driver errors into StoreError (unreachable, read-only) and opens the short "known down" window. */
  private fail(err: unknown): never {
    if (isUnreachable(err)) {
      this.downUntil = Date.now() + (this.o.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
      this.downReason = (err as Error).message;
      throw new StoreError(`store unavailable: PostgreSQL at ${this.where}: ${this.downReason}`, { cause: err });
    }
    if (isReadOnly(err)) throw new StoreError(`store: PostgreSQL at ${this.where} refused a write (read-only)`, { cause: err });
    throw err;
  }

  private checkUp(): void {
    if (this.closed) throw new StoreError('store: closed');
    if (Date.now() < this.downUntil) throw new StoreError(`store unavailable: PostgreSQL at ${this.where}: ${this.downReason}`);
  }

  /** Runs one statement on any pooled connection. */
  private async query(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    this.checkUp();
    try {
      return await this.pool.query<Row>(text, values);
    } catch (err) {
      return this.fail(err);
    }
  }

  /**
   * Runs fn in one transaction; what it touched is announced (NOTIFY, delivered on commit) and
   * dropped from this process's cache once the commit is known. Deadlocks are retried.
   */
  private async tx<T>(fn: (c: pg.PoolClient, touched: Touched) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.checkUp();
      let c: pg.PoolClient;
      try {
        c = await this.pool.connect();
      } catch (err) {
        return this.fail(err);
      }
      const touched = new Touched();
      let broken: unknown = null;
      let committed = false;
      try {
        await c.query('BEGIN');
        const result = await fn(c, touched);
        if (touched.systems.size > 0 || touched.events.length > 0) {
          await c.query('SELECT pg_notify($1, $2)', [CHANNEL, encodeNotice({ i: this.instanceId, s: [...touched.systems], e: touched.events })]);
        }
        await c.query('COMMIT');
        committed = true;
        return result;
      } catch (err) {
        if (isUnreachable(err)) broken = err;
        else await c.query('ROLLBACK').catch((e: unknown) => (broken = e));
        if (isRetryable(err) && attempt < 3) continue;
        return this.fail(err);
      } finally {
        c.release(broken ? (broken as Error) : undefined);
        // Also after a failed COMMIT: whether it landed is unknown, so forget what it touched.
        if (touched.systems.size > 0) this.cache.invalidate(touched.systems);
        if (committed) {
          const gen = this.cache.begin();
          for (const s of touched.after) this.cache.put(`s:${s.name}`, structuredClone(s), [s.name], gen);
        }
      }
    }
  }

  /** Reads a cache miss from the database (filling the cache), or a stale entry when the database is out of reach. */
  private async cached<T>(key: string, load: () => Promise<{ value: T; names: readonly string[] }>): Promise<T> {
    const gen = this.cache.begin();
    try {
      const { value, names } = await load();
      return this.cache.put(key, value, names, gen);
    } catch (err) {
      if (err instanceof StoreError && err.message.startsWith('store unavailable') && this.cache.has(key)) return this.cache.stale<T>(key)!;
      throw err;
    }
  }

  private async row(c: pg.ClientBase | pg.Pool, name: string, lock = false): Promise<System | null> {
    const r = await c.query<Row>(`SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.name = $1${lock ? ' FOR UPDATE' : ''}`, [name]);
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
        touched.systems.add(input.name);
        await c.query(
          `INSERT INTO systems (name, ip, hostname, profile, overrides, build, state, run, created_at, updated_at, state_changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $8)`,
          [input.name, input.ip ?? null, input.hostname ?? null, input.profile, JSON.stringify(input.overrides ?? {}), input.build ?? false, input.state ?? 'registered', now],
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
        return { value: await this.row(this.pool, name), names: [name] };
      } catch (err) {
        return this.fail(err);
      }
    });
  }

  async listSystems(): Promise<System[]> {
    return (await this.query(`SELECT ${SYSTEM_COLUMNS} FROM systems s ORDER BY s.name`)).rows.map(toSystem);
  }

  async findSystemsByMacs(macs: string[]): Promise<System[]> {
    if (macs.length === 0) return [];
    const key = macs.length === 1 ? `m:${macs[0]}` : `m:${macs.join(',')}`;
    const hit = this.cache.get<System[]>(key);
    if (hit !== undefined) return hit;
    return this.cached(key, async () => {
      const r = await this.query(`SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.name IN (SELECT system FROM system_macs WHERE mac = ANY($1::text[])) ORDER BY s.name`, [macs]);
      const value = r.rows.map(toSystem);
      return { value, names: value.map((s) => s.name) };
    });
  }

  async findSystemByIp(ip: string): Promise<System | null> {
    const hit = this.cache.get<System | null>(`i:${ip}`);
    if (hit !== undefined) return hit;
    return this.cached(`i:${ip}`, async () => {
      const r = await this.query(`SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.ip = $1`, [ip]);
      const value = r.rows[0] ? toSystem(r.rows[0]) : null;
      return { value, names: value ? [value.name] : [] };
    });
  }

  private async applyPatch(c: pg.ClientBase, name: string, patch: SystemPatch, now: number): Promise<void> {
    const sets: string[] = ['updated_at = $1'];
    const values: unknown[] = [now];
    for (const [k, v] of Object.entries(patch) as Array<[keyof SystemPatch, unknown]>) {
      if (k === 'macs' || v === undefined) continue;
      values.push(k === 'overrides' ? JSON.stringify(v) : v);
      sets.push(`${COLUMNS[k]} = $${values.length}`);
    }
    values.push(name);
    const r = await c.query(`UPDATE systems SET ${sets.join(', ')} WHERE name = $${values.length}`, values);
    if (r.rowCount === 0) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
    if (patch.macs) await this.writeMacs(c, name, patch.macs);
  }

  async updateSystem(name: string, patch: SystemPatch, now: number): Promise<System> {
    try {
      return await this.tx(async (c, touched) => {
        touched.systems.add(name);
        await this.applyPatch(c, name, patch, now);
        const s = (await this.row(c, name))!;
        touched.after.push(s);
        return s;
      });
    } catch (err) {
      return this.conflict(err, { macs: patch.macs, ip: patch.ip });
    }
  }

  async deleteSystem(name: string): Promise<boolean> {
    return this.tx(async (c, touched) => {
      const r = await c.query('DELETE FROM systems WHERE name = $1', [name]);
      if (r.rowCount === 0) return false;
      touched.systems.add(name);
      return true;
    });
  }

  async transition(name: string, now: number, decide: (s: System) => Transition | null) {
    return this.tx(async (c, touched) => {
      // The row lock makes concurrent transitions of one system (on any instance) take turns, each deciding on the state the previous one left.
      const before = await this.row(c, name, true);
      if (!before) throw new NotFoundError(`no system named ${JSON.stringify(name)}`);
      const t = decide(before);
      if (!t) return { system: before, event: null as InstallEvent | null, changed: false };
      touched.systems.add(name);
      if (t.retireTokensAt !== undefined) await c.query('UPDATE tokens SET retired_at = $1 WHERE system = $2 AND retired_at IS NULL', [t.retireTokensAt, name]);
      if (t.issueToken) {
        const k = t.issueToken;
        await c.query('INSERT INTO tokens (token, system, run, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [k.token, name, k.run, k.createdAt, k.expiresAt]);
      }
      if (t.patch) await this.applyPatch(c, name, t.patch, now);
      let event: InstallEvent | null = null;
      if (t.event) {
        event = await this.insertEvent(c, name, t.event);
        touched.events.push(event);
      }
      const after = t.patch ? (await this.row(c, name))! : before;
      touched.after.push(after);
      return { system: after, event, changed: true };
    });
  }

  private async insertEvent(c: pg.ClientBase, name: string, e: NewEvent): Promise<InstallEvent> {
    const r = await c.query<Row>('INSERT INTO events (system, run, time, stage, message, source, log) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id', [
      name,
      e.run,
      e.time,
      e.stage,
      e.message,
      e.source,
      e.log,
    ]);
    return { id: Number(r.rows[0]!.id), system: name, ...e };
  }

  async findToken(token: string): Promise<TokenRecord | null> {
    const hit = this.cache.get<TokenRecord>(`t:${token}`);
    if (hit) return hit;
    // Unknown tokens are not remembered: anyone can ask for any number of them.
    const gen = this.cache.begin();
    let r: pg.QueryResult<Row>;
    try {
      r = await this.query('SELECT * FROM tokens WHERE token = $1', [token]);
    } catch (err) {
      const stale = this.cache.stale<TokenRecord>(`t:${token}`);
      if (stale && err instanceof StoreError) return stale;
      throw err;
    }
    if (!r.rows[0]) return null;
    const t = toToken(r.rows[0]);
    return this.cache.put(`t:${token}`, t, [t.system], gen);
  }

  async listEvents(name: string, options: { run?: number; limit?: number } = {}): Promise<InstallEvent[]> {
    const args: unknown[] = [name, options.limit ?? 10_000];
    const where = options.run === undefined ? 'system = $1' : 'system = $1 AND run = $3';
    if (options.run !== undefined) args.push(options.run);
    const r = await this.query(`SELECT * FROM (SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT $2) e ORDER BY id`, args);
    return r.rows.map(toEvent);
  }

  async loadLeases(): Promise<DhcpLeaseRecord[]> {
    return (await this.query('SELECT * FROM leases ORDER BY ip')).rows.map(toLease);
  }

  async saveLeases(leases: DhcpLeaseRecord[]): Promise<void> {
    if (leases.length === 0) return;
    await this.query(SAVE_LEASES_SQL, leaseArrays(uniqueByIp(leases)));
  }

  async claimLeases(leases: DhcpLeaseRecord[], now: number): Promise<string[]> {
    const refused: string[] = [];
    // One statement per round of distinct addresses (a statement may not write one row twice).
    let rest = leases;
    while (rest.length > 0) {
      const seen = new Set<string>();
      const round: DhcpLeaseRecord[] = [];
      const later: DhcpLeaseRecord[] = [];
      for (const l of rest) (seen.has(l.ip) ? later : round).push(l), seen.add(l.ip);
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await this.query(CLAIM_LEASES_SQL, [...leaseArrays(round), now]);
          const written = new Set(r.rows.map((x) => String(x.ip)));
          for (const l of round) if (!written.has(l.ip)) refused.push(l.ip);
          break;
        } catch (err) {
          if (!isRetryable(err) || attempt >= 3) throw err;
        }
      }
      rest = later;
    }
    return refused;
  }

  async heartbeat(name: string): Promise<InstanceBeat[]> {
    const r = await this.query(HEARTBEAT_SQL, [name]);
    return r.rows.map((x) => ({ name: String(x.name), ageMs: Number(x.age_ms) }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed?.close();
    await this.pool.end().catch(() => undefined);
  }
}
