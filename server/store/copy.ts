// Moves an installation from SQLite to PostgreSQL: every table, every column, by name, in one
// PostgreSQL transaction (all or nothing), into an empty database. A SQLite table or column with no
// PostgreSQL equivalent stops the copy before anything is written, so nothing is silently left behind.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { StoreError } from '../errors.ts';
import { openSqliteStore } from './sqlite.ts';
import { openPgStore } from './postgres.ts';
import { CHANNEL, encodeNotice } from './pg-notify.ts';
import { redactUrl } from './pg-url.ts';

/** Tables the target keeps by itself (PostgreSQL triggers count systems by state as they are copied). */
const DERIVED_TABLES = new Set(['system_counts']);

/** Rows per INSERT statement (PostgreSQL allows 65,535 parameters per statement). */
const CHUNK_ROWS = 500;

/** What one copy moved: rows per table, in the order they were written. */
export interface CopyReport {
  from: string;
  to: string;
  tables: Array<{ table: string; rows: number }>;
}

interface PgColumn {
  name: string;
  type: string;
  identity: boolean;
}

/** Returns the SQLite tables in an order that writes every referenced table before its referrers. */
function tableOrder(db: Database.Database): string[] {
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
  const deps = new Map(tables.map((t) => [t, (db.prepare(`SELECT "table" AS ref FROM pragma_foreign_key_list(?)`).all(t) as Array<{ ref: string }>).map((r) => r.ref)]));
  const out: string[] = [];
  const visit = (t: string, path: string[]) => {
    if (out.includes(t) || path.includes(t)) return;
    for (const d of deps.get(t) ?? []) if (d !== t) visit(d, [...path, t]);
    out.push(t);
  };
  for (const t of tables) visit(t, []);
  return out;
}

/** Returns a SQLite value as the PostgreSQL column type wants it. */
function convert(v: unknown, type: string): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'boolean') return v === 1 || v === true || v === '1' || v === 'true';
  if (type === 'bigint' || type === 'integer' || type === 'smallint' || type === 'double precision' || type === 'real' || type === 'numeric') return Number(v);
  if (Buffer.isBuffer(v)) return v;
  return typeof v === 'string' ? v : String(v);
}

async function pgColumns(c: pg.ClientBase, table: string): Promise<Map<string, PgColumn>> {
  const r = await c.query(
    `SELECT column_name, data_type, is_identity = 'YES' OR coalesce(column_default, '') LIKE 'nextval(%' AS identity
     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  );
  return new Map(r.rows.map((x: { column_name: string; data_type: string; identity: boolean }) => [x.column_name, { name: x.column_name, type: x.data_type, identity: x.identity }]));
}

/**
 * Copies the SQLite database at from (migrated to this kickstand's schema first) into the empty
 * PostgreSQL database at to (migrated too); returns what it copied. Throws StoreError naming the
 * problem and writes nothing when the target is not empty or a column has nowhere to go.
 */
export async function copySqliteToPostgres(from: string, to: string): Promise<CopyReport> {
  if (!existsSync(from)) throw new StoreError(`store copy: no SQLite database at ${from}`);
  await openSqliteStore(from).close();
  const target = await openPgStore({ url: to, listen: false });
  const db = new Database(from, { readonly: true, fileMustExist: true });
  const c = await target.pool.connect();
  const report: CopyReport = { from, to: redactUrl(to), tables: [] };
  try {
    const tables = tableOrder(db).filter((t) => !DERIVED_TABLES.has(t));
    const plan: Array<{ table: string; columns: PgColumn[] }> = [];
    for (const table of tables) {
      const pgCols = await pgColumns(c, table);
      if (pgCols.size === 0) throw new StoreError(`store copy: table ${table} has no PostgreSQL equivalent in this kickstand; nothing was copied`);
      const names = (db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(table) as Array<{ name: string }>).map((r) => r.name);
      const missing = names.filter((n) => !pgCols.has(n));
      if (missing.length > 0) throw new StoreError(`store copy: column ${table}.${missing.join(`, ${table}.`)} has no PostgreSQL equivalent in this kickstand; nothing was copied`);
      plan.push({ table, columns: names.map((n) => pgCols.get(n)!) });
    }
    await c.query('BEGIN');
    for (const { table } of plan) {
      const n = Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
      if (n > 0) throw new StoreError(`store copy: ${redactUrl(to)} already holds ${n} rows in ${table}; copy needs an empty database (nothing was copied)`);
    }
    for (const { table, columns } of plan) {
      const list = columns.map((col) => `"${col.name}"`).join(', ');
      let rows = 0;
      let chunk: unknown[][] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        const values: unknown[] = [];
        const tuples = chunk.map((row) => `(${row.map((v) => (values.push(v), `$${values.length}`)).join(', ')})`);
        await c.query(`INSERT INTO ${table} (${list}) VALUES ${tuples.join(', ')}`, values);
        rows += chunk.length;
        chunk = [];
      };
      for (const r of db.prepare(`SELECT ${list} FROM "${table}" ORDER BY rowid`).iterate() as Iterable<Record<string, unknown>>) {
        chunk.push(columns.map((col) => convert(r[col.name], col.type)));
        if (chunk.length >= CHUNK_ROWS) await flush();
      }
      await flush();
      const source = Number((db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n);
      if (source !== rows) throw new StoreError(`store copy: ${table}: read ${rows} rows of ${source}; nothing was copied`);
      // Identity columns continue after the highest copied id.
      for (const col of columns.filter((x) => x.identity)) {
        await c.query(`SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max("${col.name}"), 1), max("${col.name}") IS NOT NULL) FROM ${table}`, [table, col.name]);
      }
      report.tables.push({ table, rows });
    }
    // Instances already running on the target drop what they cached.
    await c.query('SELECT pg_notify($1, $2)', [CHANNEL, encodeNotice({ i: 'store-copy', all: 1 })]);
    await c.query('COMMIT');
    return report;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (err instanceof StoreError) throw err;
    throw new StoreError(`store copy: ${(err as Error).message}; nothing was copied`, { cause: err });
  } finally {
    c.release();
    db.close();
    await target.close();
  }
}
