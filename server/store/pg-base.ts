// What the PostgreSQL store's statements go through: the pool, the read cache and the change feed
// that keeps it honest, and one rule for errors (unreachable: StoreError and a short window in which
// calls fail at once; read-only: StoreError; deadlocks: tried again).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { StoreError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { ReadCache } from './read-cache.ts';
import { CHANNEL, ChangeFeed, encodeNotice, type ChangeNotice } from './pg-notify.ts';
import { isReadOnly, isRetryable, isUnreachable, PG_TYPES, type Row } from './pg-rows.ts';
import { redactUrl } from './pg-url.ts';
import type { InstallEvent, RemoteChange, System } from './types.ts';

export const DEFAULT_POOL_SIZE = 10;
/**
 * Connections of DHCP's own (lease lookups, saves and claims), beside the main pool: an OFFER or
 * ACK waits for its claim, and must not queue behind step reports and transitions in a storm. The
 * lease writer has one batch in flight at a time; the second connection takes lease lookups.
 */
export const LEASE_POOL_SIZE = 2;
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

/** What a write changed of one system: its row always; maybe its tokens; maybe its MACs or address (who a lookup finds). */
export interface SystemChange {
  name: string;
  tokens: boolean;
  membership: boolean;
}

/** Cache dependency names: a system's row, its tokens, and its MACs and address. */
export const dep = {
  row: (name: string) => `row:${name}`,
  tokens: (name: string) => `tokens:${name}`,
  member: (name: string) => `member:${name}`,
};

/** Returns the NOTIFY payload telling other instances about changes (with events, when given). */
export function changeNotice(instance: string, changes: Iterable<SystemChange>, events?: InstallEvent[]): string {
  const list = [...changes];
  const t = list.filter((c) => c.tokens).map((c) => c.name);
  const m = list.filter((c) => c.membership).map((c) => c.name);
  return encodeNotice({ i: instance, s: list.map((c) => c.name), ...(t.length ? { t } : {}), ...(m.length ? { m } : {}), ...(events?.length ? { e: events } : {}) });
}

/** Marks stale what changes made wrong in the cache. */
export function invalidateChanges(cache: ReadCache, changes: Iterable<SystemChange>): void {
  const deps: string[] = [];
  let membership = false;
  for (const c of changes) {
    deps.push(dep.row(c.name));
    if (c.tokens) deps.push(dep.tokens(c.name));
    if (c.membership) {
      deps.push(dep.member(c.name));
      membership = true;
    }
  }
  cache.invalidate(deps, membership);
}

/** What a write transaction touched, sent over NOTIFY before it commits and dropped from the cache after. */
export class Touched {
  readonly changes = new Map<string, SystemChange>();
  /** Systems as the transaction left them: cached once it commits, so the cache holds what this instance wrote. */
  readonly after: System[] = [];

  /** Records a change to a system (merged with earlier ones of the same transaction). */
  mark(name: string, what: { tokens?: boolean; membership?: boolean } = {}): void {
    const c = this.changes.get(name) ?? { name, tokens: false, membership: false };
    c.tokens ||= what.tokens ?? false;
    c.membership ||= what.membership ?? false;
    this.changes.set(name, c);
  }
}

/** A PostgreSQL connection pool with the read cache, the change feed and the error rules every statement goes through. */
export class PgConnection {
  readonly pool: pg.Pool;
  /** DHCP's lane (LEASE_POOL_SIZE connections): lease statements only. */
  readonly leasePool: pg.Pool;
  /** This process's id in NOTIFY payloads (its own notices are not delivered back). */
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  version = 0;
  protected readonly cache = new ReadCache();
  protected readonly where: string;
  private readonly listeners = new Set<(c: RemoteChange) => void>();
  private feed: ChangeFeed | null = null;
  private downUntil = 0;
  private downReason = '';
  private closed = false;

  constructor(protected readonly o: PgStoreOptions) {
    this.where = redactUrl(o.url);
    this.pool = this.newPool(o.poolSize ?? DEFAULT_POOL_SIZE, 'kickstand');
    this.leasePool = this.newPool(LEASE_POOL_SIZE, 'kickstand-leases');
  }

  /** Returns a pool with the store's timeouts, its error rule and its per-connection settings. */
  private newPool(max: number, applicationName: string): pg.Pool {
    const queryTimeoutMs = this.o.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    const pool = new pg.Pool({
      connectionString: this.o.url,
      max,
      connectionTimeoutMillis: this.o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      statement_timeout: queryTimeoutMs,
      // The client gives up a little after the server would, so a peer gone silent cannot hold a request forever.
      query_timeout: queryTimeoutMs + 1000,
      keepAlive: true,
      application_name: applicationName,
      types: PG_TYPES,
    });
    // An idle connection dropped by the server must not crash the process; the next use reconnects.
    pool.on('error', (err) => this.o.log?.warn({ err: err.message }, 'store: idle PostgreSQL connection lost'));
    // Named statements are planned on every run. After five runs PostgreSQL would otherwise keep a
    // generic plan, and one made while a table was small (leases at the start of a storm) scans
    // the whole table on every lease claim as it grows. The statement queues ahead of the
    // connection's first query; a server before PostgreSQL 12 lacks the setting and keeps its default.
    pool.on('connect', (c) => {
      c.query('SET plan_cache_mode = force_custom_plan').catch((err: Error) => this.o.log?.warn({ err: err.message }, 'store: cannot set plan_cache_mode'));
    });
    return pool;
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
    else invalidateChanges(this.cache, (n.s ?? []).map((name) => ({ name, tokens: n.t?.includes(name) ?? false, membership: n.m?.includes(name) ?? false })));
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
  protected fail(err: unknown): never {
    if (isUnreachable(err)) {
      this.downUntil = Date.now() + (this.o.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
      this.downReason = (err as Error).message;
      throw new StoreError(`store unavailable: PostgreSQL at ${this.where}: ${this.downReason}`, { cause: err });
    }
    if (isReadOnly(err)) throw new StoreError(`store: PostgreSQL at ${this.where} refused a write (read-only)`, { cause: err });
    throw err;
  }

  protected checkUp(): void {
    if (this.closed) throw new StoreError('store: closed');
    if (Date.now() < this.downUntil) throw new StoreError(`store unavailable: PostgreSQL at ${this.where}: ${this.downReason}`);
  }

  /** Runs one statement on any pooled connection; a name prepares it once per connection (for the hot ones). */
  protected async query(text: string, values?: unknown[], name?: string, pool = this.pool): Promise<pg.QueryResult<Row>> {
    this.checkUp();
    try {
      return await pool.query<Row>(name ? { name, text, values } : { text, values });
    } catch (err) {
      return this.fail(err);
    }
  }

  /**
   * Runs fn in one transaction; what it touched is announced (NOTIFY, delivered on commit) and
   * dropped from this process's cache once the commit is known. Deadlocks are retried.
   */
  protected async tx<T>(fn: (c: pg.PoolClient, touched: Touched) => Promise<T>): Promise<T> {
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
        if (touched.changes.size > 0) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, changeNotice(this.instanceId, touched.changes.values())]);
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
        if (touched.changes.size > 0) invalidateChanges(this.cache, touched.changes.values());
        if (committed) this.remember(touched.after);
      }
    }
  }

  /** Caches systems as this instance just wrote them (a copy, frozen). */
  protected remember(systems: System[]): void {
    const gen = this.cache.begin();
    for (const s of systems) this.cache.put(`s:${s.name}`, structuredClone(s), [dep.row(s.name)], gen);
  }

  /** Reads a cache miss from the database (filling the cache), or a stale entry when the database is out of reach. */
  protected async cached<T>(key: string, load: () => Promise<{ value: T; deps: readonly string[] }>): Promise<T> {
    const gen = this.cache.begin();
    try {
      const { value, deps } = await load();
      return this.cache.put(key, value, deps, gen);
    } catch (err) {
      if (err instanceof StoreError && err.message.startsWith('store unavailable') && this.cache.has(key)) return this.cache.stale<T>(key)!;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed?.close();
    await Promise.all([this.pool.end().catch(() => undefined), this.leasePool.end().catch(() => undefined)]);
  }
}
