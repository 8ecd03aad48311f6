// The PostgreSQL store's reads and writes that the read cache never holds: pages and counts of the
// fleet, install events, power settings, and DHCP leases and heartbeats. Every statement is one
// round trip on any pooled connection; the cached boot-path lookups live in postgres.ts.
import { NotFoundError } from '../errors.ts';
import type { DhcpLeaseRecord } from './leases.ts';
import { PgConnection } from './pg-base.ts';
import { isRetryable, SYSTEM_COLUMNS, toEvent, toLease, toPower, toSystem } from './pg-rows.ts';
import { CLAIM_LEASES_SQL, HEARTBEAT_SQL, SAVE_LEASES_SQL, leaseArrays, uniqueByIp } from './pg-leases.ts';
import { SYSTEM_STATES, type InstallEvent, type InstanceBeat, type PowerSettingsRecord, type System, type SystemCounts, type SystemQuery } from './types.ts';

/** Counts by state (kept by triggers, PostgreSQL migration 4) and the quiet ones, in one round trip ($1 = quiet since before). */
const COUNT_SYSTEMS_SQL = `
  SELECT (SELECT json_object_agg(state, n) FROM system_counts) AS counts,
    (SELECT COUNT(*) FROM systems WHERE state = 'installing' AND COALESCE(last_event_at, state_changed_at) < $1) AS installing,
    (SELECT COUNT(*) FROM systems WHERE state = 'build' AND stage = 'pxe' AND COALESCE(last_event_at, state_changed_at) < $1) AS armed`;

/** Drops the installer logs of a system's oldest events past $2 bytes, newest kept first ($1 = system). */
const TRIM_LOGS_SQL = `
  UPDATE events SET log = NULL WHERE id IN (
    SELECT id FROM (SELECT id, SUM(octet_length(log)) OVER (ORDER BY id DESC) AS total FROM events WHERE system = $1 AND log IS NOT NULL) x
    WHERE total > $2)`;

/** Returns text as an ILIKE pattern matching it anywhere, its own %, _ and \ matching themselves. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** PostgreSQL statements of the store that bypass the read cache. */
export class PgRecords extends PgConnection {
  async listSystemsPage(q: SystemQuery): Promise<System[]> {
    // Names compare byte-wise (COLLATE "C"), as SQLite orders them, whatever the database's locale.
    const where = ['s.name COLLATE "C" > $1'];
    const values: unknown[] = [q.after ?? ''];
    if (q.states) {
      if (q.states.length === 0) return [];
      values.push([...q.states]);
      where.push(`s.state = ANY($${values.length}::text[])`);
    }
    if (q.search) {
      values.push(containsPattern(q.search));
      const p = `$${values.length}`;
      where.push(`(s.name ILIKE ${p} OR s.hostname ILIKE ${p} OR s.ip ILIKE ${p} OR EXISTS (SELECT 1 FROM system_macs m WHERE m.system = s.name AND m.mac ILIKE ${p}))`);
    }
    values.push(q.limit);
    const r = await this.query(`SELECT ${SYSTEM_COLUMNS} FROM systems s WHERE ${where.join(' AND ')} ORDER BY s.name COLLATE "C" LIMIT $${values.length}`, values);
    return r.rows.map(toSystem);
  }

  async countSystems(stalledBefore: number): Promise<SystemCounts> {
    const row = (await this.query(COUNT_SYSTEMS_SQL, [stalledBefore], 'ks_count_systems')).rows[0]!;
    const byState = Object.fromEntries(SYSTEM_STATES.map((s) => [s, 0])) as SystemCounts['byState'];
    for (const [state, n] of Object.entries((row.counts as Record<string, number> | null) ?? {})) {
      if (state in byState) byState[state as keyof typeof byState] = Number(n);
    }
    const stalledInstalling = Number(row.installing);
    return { byState, stalled: stalledInstalling + Number(row.armed), stalledInstalling };
  }

  async listEvents(name: string, options: { run?: number; limit?: number } = {}): Promise<InstallEvent[]> {
    const args: unknown[] = [name, options.limit ?? 10_000];
    const where = options.run === undefined ? 'system = $1' : 'system = $1 AND run = $3';
    if (options.run !== undefined) args.push(options.run);
    const r = await this.query(`SELECT * FROM (SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT $2) e ORDER BY id`, args);
    return r.rows.map(toEvent);
  }

  async countEvents(name: string, run: number, stages?: readonly string[]): Promise<number> {
    if (!stages) return Number((await this.query('SELECT COUNT(*) AS n FROM events WHERE system = $1 AND run = $2', [name, run], 'ks_count_events')).rows[0]!.n);
    if (stages.length === 0) return 0;
    const r = await this.query('SELECT COUNT(*) AS n FROM events WHERE system = $1 AND run = $2 AND stage = ANY($3::text[])', [name, run, [...stages]], 'ks_count_stages');
    return Number(r.rows[0]!.n);
  }

  async trimLogs(name: string, maxBytes: number): Promise<number> {
    return (await this.query(TRIM_LOGS_SQL, [name, maxBytes])).rowCount ?? 0;
  }

  async getPowerSettings(name: string): Promise<PowerSettingsRecord | null> {
    const r = await this.query('SELECT * FROM power_settings WHERE system = $1', [name]);
    return r.rows[0] ? toPower(r.rows[0]) : null;
  }

  async listPowerSettings(): Promise<PowerSettingsRecord[]> {
    return (await this.query('SELECT * FROM power_settings ORDER BY system COLLATE "C"')).rows.map(toPower);
  }

  async setPowerSettings(p: Omit<PowerSettingsRecord, 'updatedAt'>, now: number): Promise<PowerSettingsRecord> {
    try {
      await this.query(
        `INSERT INTO power_settings (system, driver, address, username, secret, options, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (system) DO UPDATE SET driver = excluded.driver, address = excluded.address, username = excluded.username,
           secret = excluded.secret, options = excluded.options, updated_at = excluded.updated_at`,
        [p.system, p.driver, p.address, p.user, p.secret, JSON.stringify(p.options), now],
      );
    } catch (err) {
      // The foreign key names the missing system.
      if ((err as { code?: string }).code === '23503') throw new NotFoundError(`no system named ${JSON.stringify(p.system)}`);
      throw err;
    }
    return { ...p, options: structuredClone(p.options), updatedAt: now };
  }

  async deletePowerSettings(name: string): Promise<boolean> {
    return ((await this.query('DELETE FROM power_settings WHERE system = $1', [name])).rowCount ?? 0) > 0;
  }

  async findLeases(macs: string[]): Promise<DhcpLeaseRecord[]> {
    if (macs.length === 0) return [];
    const r = await this.query('SELECT * FROM leases WHERE mac = ANY($1::text[]) ORDER BY mac COLLATE "C", ip COLLATE "C"', [macs], 'ks_find_leases', this.leasePool);
    return r.rows.map(toLease);
  }

  async loadLeases(): Promise<DhcpLeaseRecord[]> {
    return (await this.query('SELECT * FROM leases ORDER BY ip COLLATE "C"')).rows.map(toLease);
  }

  async saveLeases(leases: DhcpLeaseRecord[]): Promise<void> {
    if (leases.length === 0) return;
    await this.query(SAVE_LEASES_SQL, leaseArrays(uniqueByIp(leases)), undefined, this.leasePool);
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
          const r = await this.query(CLAIM_LEASES_SQL, [...leaseArrays(round), now], 'ks_claim', this.leasePool);
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
    const r = await this.query(HEARTBEAT_SQL, [name], 'ks_heartbeat');
    return r.rows.map((x) => ({ name: String(x.name), ageMs: Number(x.age_ms) }));
  }
}
