// Admin authentication: bearer token compared in constant time; the token is generated into the
// data folder (mode 0600) on first start when none is configured.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { UnauthorizedError } from '../errors.ts';

/** Returns true when a and b are equal, in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** Returns the bearer token of a request, or null. */
export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const h = headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}

/** Throws UnauthorizedError unless the request carries the admin token. */
export function requireAdmin(headers: IncomingHttpHeaders, adminToken: string): void {
  const t = bearerToken(headers);
  if (t === null || !constantTimeEqual(t, adminToken)) throw new UnauthorizedError();
}

/** Throws UnauthorizedError when a metrics token is configured and the request carries neither it nor the admin token. */
export function requireMetricsToken(headers: IncomingHttpHeaders, metricsToken: string | undefined, adminToken: string): void {
  if (metricsToken === undefined) return;
  const t = bearerToken(headers);
  if (t === null || !(constantTimeEqual(t, metricsToken) || constantTimeEqual(t, adminToken))) throw new UnauthorizedError('missing or invalid bearer token (metrics.token)');
}

/**
 * Returns the admin token: the configured one, else the one in <dataDir>/admin-token, else a new
 * one written there with mode 0600 (created says which).
 */
export function ensureAdminToken(dataDir: string, configured?: string): { token: string; path: string | null; created: boolean } {
  if (configured) return { token: configured, path: null, created: false };
  const path = join(dataDir, 'admin-token');
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), path, created: false };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { token, path, created: true };
}
