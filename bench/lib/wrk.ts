// Runs wrk (Debian's package) against one URL and parses its --latency report.
import { commandLine, run } from './procs.ts';

/** What one wrk run measured. */
export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Responses that were not 2xx/3xx. */
  non2xx: number;
  /** Socket errors (connect, read, write, timeout) wrk counted. */
  socketErrors: number;
  command: string;
}

/** Returns a wrk duration ("1.23ms", "850.00us", "1.02s") in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** Returns the figures in wrk's text report. */
export function parseWrk(out: string): Omit<WrkResult, 'command'> {
  const pct = (p: string) => parseDuration(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1] ?? NaN),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** Runs `wrk -t<threads> -c<connections> -d<seconds>s --latency url`. */
export async function wrk(url: string, o: { threads?: number; connections?: number; seconds?: number } = {}): Promise<WrkResult> {
  const args = [`-t${o.threads ?? 2}`, `-c${o.connections ?? 64}`, `-d${o.seconds ?? 10}s`, '--latency', url];
  const r = await run('wrk', args, { timeoutMs: ((o.seconds ?? 10) + 30) * 1000 });
  if (r.code !== 0) throw new Error(`wrk ${url} exited ${r.code}: ${r.stderr || r.stdout}`);
  return { ...parseWrk(r.stdout), command: commandLine('wrk', args) };
}
