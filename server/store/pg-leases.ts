// Lease and heartbeat statements of the PostgreSQL store. A claim is one statement: the address
// row is written only where leaseWriteAllowed (store/leases.ts) would allow it — the same rule,
// in SQL — and PostgreSQL's row lock on the conflicting address makes two instances claiming one
// address at once take turns, the second seeing the first's lease. One round trip per batch.
import type { DhcpLeaseRecord } from './leases.ts';

const INPUT = `SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS t(ip, mac, hostname, state, expires_at, updated_at)`;

/** Upserts leases by address ($1–$6: the arrays of leaseArrays). */
export const SAVE_LEASES_SQL = `
  INSERT INTO leases (ip, mac, hostname, state, expires_at, updated_at) ${INPUT}
  ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, hostname = excluded.hostname, state = excluded.state,
    expires_at = excluded.expires_at, updated_at = excluded.updated_at`;

/**
 * Claims leases ($1–$6 as above, $7 = now) and returns the addresses written. An offer or binding
 * releases the client's other live leases (never one this statement wrote).
 */
export const CLAIM_LEASES_SQL = `
  WITH input AS (${INPUT}),
  written AS (
    INSERT INTO leases AS l (ip, mac, hostname, state, expires_at, updated_at)
    SELECT ip, mac, hostname, state, expires_at, updated_at FROM input
    ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, hostname = excluded.hostname, state = excluded.state,
      expires_at = excluded.expires_at, updated_at = excluded.updated_at
    WHERE CASE WHEN excluded.state IN ('released', 'declined') THEN l.mac = excluded.mac
               WHEN l.mac = excluded.mac THEN l.state <> 'declined' OR l.expires_at <= $7
               ELSE l.state = 'released' OR l.expires_at <= $7 END
    RETURNING l.ip, l.mac, l.state
  ),
  freed AS (
    UPDATE leases o SET state = 'released', expires_at = $7, updated_at = $7
    FROM written w
    WHERE w.state IN ('offered', 'bound') AND o.mac = w.mac AND o.ip <> w.ip AND o.state IN ('offered', 'bound')
      AND o.ip NOT IN (SELECT ip FROM written)
    RETURNING o.ip
  )
  SELECT ip FROM written`;

/** Records a heartbeat for $1 (database clock) and returns every instance with its heartbeat's age in ms. */
export const HEARTBEAT_SQL = `
  WITH beat AS (
    INSERT INTO instances (name, heartbeat_at, started_at) VALUES ($1, clock_timestamp(), clock_timestamp())
    ON CONFLICT (name) DO UPDATE SET heartbeat_at = clock_timestamp()
    RETURNING name
  )
  SELECT name, 0::float8 AS age_ms FROM beat
  UNION ALL
  SELECT name, (extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)::float8 AS age_ms FROM instances WHERE name <> $1`;

/** Returns the column arrays ($1–$6) of a list of leases. */
export function leaseArrays(leases: DhcpLeaseRecord[]): unknown[] {
  return [leases.map((l) => l.ip), leases.map((l) => l.mac), leases.map((l) => l.hostname), leases.map((l) => l.state), leases.map((l) => l.expiresAt), leases.map((l) => l.updatedAt)];
}

/** Returns the leases with one per address, the last given winning. */
export function uniqueByIp(leases: DhcpLeaseRecord[]): DhcpLeaseRecord[] {
  return [...new Map(leases.map((l) => [l.ip, l])).values()];
}
