// `kickstand store copy --from <sqlite file> --to <postgres url>`: moves an installation (systems,
// tokens, events, leases) from the embedded SQLite store to PostgreSQL and says what it copied.
import { copySqliteToPostgres } from '../store/copy.ts';
import { checkPgUrl } from '../store/pg-url.ts';
import { parse, UsageError } from './usage.ts';

/** Runs a `store` subcommand, writing to out; returns the exit code. */
export async function storeCommand(args: string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'copy') throw new UsageError(sub ? `unknown store command ${JSON.stringify(sub)}` : 'store needs a command: copy');
  const a = parse(rest, { from: { type: 'string' }, to: { type: 'string' } }, false);
  if (!a.values.from) throw new UsageError('store copy needs --from <sqlite file>');
  if (!a.values.to) throw new UsageError('store copy needs --to <postgres url>');
  if (!/^postgres(ql)?:\/\//i.test(a.values.to)) throw new UsageError('--to must be a PostgreSQL URL: postgres://user:password@host:5432/database');
  checkPgUrl(a.values.to);
  const report = await copySqliteToPostgres(a.values.from, a.values.to);
  const total = report.tables.reduce((n, t) => n + t.rows, 0);
  out(`copied ${report.from} to ${report.to}: ${total} rows\n`);
  for (const t of report.tables) out(`  ${t.table.padEnd(14)} ${String(t.rows).padStart(8)}\n`);
  out('point store.url (or KICKSTAND_STORE__URL) at it and start kickstand serve\n');
  return 0;
}
