// Brings a PostgreSQL database to the schema this kickstand knows, or says clearly why it cannot:
// a read-only server, or a schema written by a newer kickstand. Instances starting together take an
// advisory lock, so the migrations run once.
import type pg from 'pg';
import { StoreError } from '../errors.ts';
import { PG_MIGRATIONS } from './pg-migrations.ts';

/** Advisory lock key held while migrating ("ks" + "schema" in ASCII, any fixed number works). */
const MIGRATION_LOCK = 0x6b73_5343;

/** Returns the schema version recorded in the database (0 when kickstand never ran there). */
export async function schemaVersion(c: pg.ClientBase): Promise<number> {
  const t = await c.query(`SELECT to_regclass('kickstand_schema') IS NOT NULL AS present`);
  if (!t.rows[0].present) return 0;
  const r = await c.query('SELECT version FROM kickstand_schema');
  return r.rows.length ? Number(r.rows[0].version) : 0;
}

/** Throws StoreError when the server only reads (a hot standby, or default_transaction_read_only). */
export async function checkWritable(c: pg.ClientBase, where: string): Promise<void> {
  const r = await c.query(`SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro`);
  const { standby, ro } = r.rows[0] as { standby: boolean; ro: string };
  if (standby) throw new StoreError(`store: PostgreSQL at ${where} is a read-only standby; point store.url at the primary`);
  if (ro === 'on') throw new StoreError(`store: PostgreSQL at ${where} is read-only (default_transaction_read_only is on); kickstand needs to write`);
}

/** Applies the migrations the database lacks, in one transaction; returns the version after. */
export async function migrate(c: pg.ClientBase, where: string, migrations: readonly string[] = PG_MIGRATIONS): Promise<number> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const current = await schemaVersion(c);
    if (current > migrations.length) {
      throw new StoreError(`store: PostgreSQL at ${where} has schema version ${current}, newer than this kickstand knows (${migrations.length}); upgrade kickstand`);
    }
    if (current === 0) await c.query('CREATE TABLE IF NOT EXISTS kickstand_schema (version INTEGER NOT NULL)');
    for (let v = current; v < migrations.length; v++) await c.query(migrations[v]!);
    if (current < migrations.length) {
      await c.query('DELETE FROM kickstand_schema');
      await c.query('INSERT INTO kickstand_schema (version) VALUES ($1)', [migrations.length]);
    }
    await c.query('COMMIT');
    return Math.max(current, migrations.length);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
