// pino set-up: JSON lines (pretty on a terminal), one child logger per subsystem, secrets redacted.
import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths whose values are replaced by "[redacted]" wherever they appear in a log line. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'adminToken',
  '*.adminToken',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'root_password_hash',
  '*.root_password_hash',
  '*.*.root_password_hash',
  'vnc.password',
  '*.vnc.password',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

export interface LogOptions {
  level?: string;
  /** Pretty-print for humans; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go; tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/** Returns the root logger. */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? 'info';
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (options.destination) return pino({ level, redact }, options.destination);
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    // In-process, not as a worker transport: the bundled build (dist/kickstand/) has no file for a
    // worker to load, and a terminal needs no off-thread formatting. Loaded only for a terminal.
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream;
    return pino({ level, redact }, prettyStream({ colorize: true }));
  }
  return pino({ level, redact });
}

/** Returns a logger that drops everything (for tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger whose lines are kept in memory, for tests that assert what was logged. */
export function captureLogger(level = 'debug'): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const destination = { write: (s: string) => void chunks.push(s) };
  const log = pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
  return {
    log,
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
