// What the PostgreSQL store shares between its files: row mapping, and which errors mean "the
// database is out of reach".
import pg from 'pg';
import type { DhcpLeaseRecord } from './leases.ts';
import type { InstallEvent, PowerSettingsRecord, System, TokenRecord } from './types.ts';

export type Row = Record<string, unknown>;

/** Column list that reads a system with its MACs in one query (alias the table `s`). */
export const SYSTEM_COLUMNS = `s.*, ARRAY(SELECT m.mac FROM system_macs m WHERE m.system = s.name ORDER BY m.position) AS macs`;

/** Type parsers: BIGINT (epoch milliseconds, ids) as a JS number; everything else as pg does. */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as pg.CustomTypesConfig['getTypeParser'],
};

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Returns the System of a row read with SYSTEM_COLUMNS. */
export function toSystem(r: Row): System {
  return {
    name: String(r.name),
    displayName: str(r.display_name),
    macs: (r.macs as string[] | null) ?? [],
    ip: str(r.ip),
    hostname: str(r.hostname),
    profile: str(r.profile),
    overrides: JSON.parse(String(r.overrides)) as Record<string, unknown>,
    build: r.build === true,
    state: r.state as System['state'],
    stage: str(r.stage),
    run: Number(r.run),
    token: str(r.token),
    tokenExpiresAt: num(r.token_expires_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    stateChangedAt: Number(r.state_changed_at),
    lastEventAt: num(r.last_event_at),
  };
}

/** Returns the power settings of a power_settings row. */
export function toPower(r: Row): PowerSettingsRecord {
  return {
    system: String(r.system),
    driver: str(r.driver),
    address: str(r.address),
    user: str(r.username),
    secret: str(r.secret),
    options: JSON.parse(String(r.options)) as Record<string, unknown>,
    updatedAt: Number(r.updated_at),
  };
}

/** Returns the TokenRecord of a tokens row. */
export function toToken(r: Row): TokenRecord {
  return { token: String(r.token), system: String(r.system), run: Number(r.run), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), retiredAt: num(r.retired_at), boundIp: str(r.bound_ip) };
}

/** Returns the InstallEvent of an events row. */
export function toEvent(r: Row): InstallEvent {
  return { id: Number(r.id), system: String(r.system), run: Number(r.run), time: Number(r.time), stage: String(r.stage), message: str(r.message), source: str(r.source), log: str(r.log) };
}

/** Returns the lease of a leases row. */
export function toLease(r: Row): DhcpLeaseRecord {
  return { mac: String(r.mac), ip: String(r.ip), hostname: str(r.hostname), state: r.state as DhcpLeaseRecord['state'], expiresAt: Number(r.expires_at), updatedAt: Number(r.updated_at) };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);
/** SQLSTATEs of a server that is going away or refusing connections (class 08, 57P01–57P03, 53300). */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Returns true when err means the database cannot be reached (as opposed to a bad statement). */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08')) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Connection is closed|Client was closed|Client has encountered a connection error|Cannot use a pool after calling end/i.test(message);
}

/** Returns true when err is PostgreSQL refusing a write on a read-only server or transaction. */
export function isReadOnly(err: unknown): boolean {
  return (err as { code?: unknown })?.code === '25006';
}

/** Returns true when err asks for the transaction to be tried again (deadlock, serialization). */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}
