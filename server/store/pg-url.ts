// PostgreSQL URLs: checked before connecting and made safe to print. Kept apart from the store so
// that naming a URL (logs, `store copy`'s checks) does not load the pg client.
import { parse as parseConnectionString } from 'pg-connection-string';
import { ConfigError } from '../errors.ts';

/** Returns the URL with its password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@?#]*:)[^@/?#]*@/i, '$1***@').replace(/([?&]password=)[^&#]*/i, '$1***');
}

/** Checks a store URL names PostgreSQL; throws ConfigError naming store.url otherwise. */
export function checkPgUrl(url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) throw new ConfigError('store.url: not a URL (expected postgres://user:password@host:5432/database)', 'store.url');
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new ConfigError(`store.url: ${JSON.stringify(scheme)} is not supported (expected postgres://user:password@host:5432/database)`, 'store.url');
  }
  try {
    // pg's own parser, which also takes libpq's postgres://user@/db?host=/run/postgresql form.
    parseConnectionString(url);
  } catch {
    throw new ConfigError('store.url: not a valid PostgreSQL URL (expected postgres://user:password@host:5432/database)', 'store.url');
  }
}
