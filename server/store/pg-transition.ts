// A lifecycle transition on PostgreSQL in two round trips instead of one per statement: the row
// lock (BEGIN and SELECT … FOR UPDATE) in one, and every write, the NOTIFY and the COMMIT in the
// other, as one multi-statement query. Such a query takes no parameters, so values are written as
// literals by one function that knows every type it accepts (pg's escapeLiteral for text) and
// refuses anything else. Under load each round trip waits for a PostgreSQL backend to be
// scheduled, so a report costs two waits instead of seven.
import pg from 'pg';
import { SYSTEM_COLUMNS } from './pg-rows.ts';
import { CHANNEL } from './pg-notify.ts';
import { changeNotice, type SystemChange } from './pg-base.ts';
import { PATCH_COLUMNS, type InstallEvent, type SystemPatch, type Transition } from './types.ts';

/** Returns v as an SQL literal: NULL, a finite number, TRUE/FALSE, quoted text, or a text array. */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`sql literal: ${v} is not a finite number`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return pg.escapeLiteral(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `ARRAY[${v.map((x) => pg.escapeLiteral(x)).join(', ')}]::text[]`;
  throw new Error(`sql literal: unsupported value of type ${typeof v}`);
}

/** Returns the first round trip: open the transaction and lock the system's row. */
export function lockSql(name: string): string {
  return `BEGIN; SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.name = ${sqlLiteral(name)} FOR UPDATE`;
}

/** Placeholder for the event id in the NOTIFY payload, replaced in SQL by the id the insert returned. */
const EVENT_ID = '"__kickstand_event_id__"';

/**
 * Returns the second round trip for a decided transition: its writes, the NOTIFY (with the new
 * event's id), the system as it is after (when patched) and COMMIT. `results` says which of the
 * query's results hold the event id and the system after.
 */
export function writeSql(name: string, t: Transition, change: SystemChange, now: number, instance: string): { sql: string; eventResult: number | null; afterResult: number | null } {
  const n = sqlLiteral(name);
  const parts: string[] = [];
  if (t.retireTokensAt !== undefined) parts.push(`UPDATE tokens SET retired_at = ${sqlLiteral(t.retireTokensAt)} WHERE system = ${n} AND retired_at IS NULL`);
  if (t.issueToken) {
    const k = t.issueToken;
    parts.push(`INSERT INTO tokens (token, system, run, created_at, expires_at) VALUES (${[k.token, name, k.run, k.createdAt, k.expiresAt].map(sqlLiteral).join(', ')})`);
  }
  if (t.patch) {
    const sets = [`updated_at = ${sqlLiteral(now)}`];
    for (const [k, v] of Object.entries(t.patch) as Array<[keyof SystemPatch, unknown]>) {
      if (k === 'macs' || v === undefined) continue;
      sets.push(`${PATCH_COLUMNS[k]} = ${sqlLiteral(k === 'overrides' ? JSON.stringify(v) : v)}`);
    }
    parts.push(`UPDATE systems SET ${sets.join(', ')} WHERE name = ${n}`);
    if (t.patch.macs) {
      parts.push(`DELETE FROM system_macs WHERE system = ${n}`);
      if (t.patch.macs.length > 0) parts.push(`INSERT INTO system_macs (mac, system, position) SELECT m, ${n}, p - 1 FROM unnest(${sqlLiteral(t.patch.macs)}) WITH ORDINALITY AS t(m, p)`);
    }
  }
  let eventResult: number | null = null;
  if (t.event) {
    const e = t.event;
    const notice = changeNotice(instance, [change], [{ id: 0, system: name, ...e } as InstallEvent]).replace('"id":0', `"id":${EVENT_ID}`);
    const values = [name, e.run, e.time, e.stage, e.message, e.source, e.log].map(sqlLiteral).join(', ');
    eventResult = parts.length;
    parts.push(
      `WITH ev AS (INSERT INTO events (system, run, time, stage, message, source, log) VALUES (${values}) RETURNING id)
       SELECT id, pg_notify(${sqlLiteral(CHANNEL)}, replace(${sqlLiteral(notice)}, ${sqlLiteral(EVENT_ID)}, id::text)) FROM ev`,
    );
  } else {
    parts.push(`SELECT pg_notify(${sqlLiteral(CHANNEL)}, ${sqlLiteral(changeNotice(instance, [change]))})`);
  }
  let afterResult: number | null = null;
  if (t.patch) {
    afterResult = parts.length;
    parts.push(`SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE s.name = ${n}`);
  }
  parts.push('COMMIT');
  return { sql: parts.join(';\n'), eventResult, afterResult };
}
