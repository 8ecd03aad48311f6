// Runs Kea's perfdhcp (Debian kea-admin) from the client namespace and parses its report, and
// with `timers` its per-exchange timestamps (-x t) into DISCOVER->OFFER delay percentiles.
import { commandLine, run } from './procs.ts';

/** One exchange's counters (DISCOVER-OFFER or REQUEST-ACK). */
export interface Exchange {
  sent: number;
  received: number;
  drops: number;
  avgDelayMs: number;
  maxDelayMs: number;
}

/** Percentiles of the DISCOVER->OFFER delays of every answered exchange, in ms. */
export interface Delays {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** What one perfdhcp run measured. */
export interface PerfResult {
  /** Offered rate (-r). */
  rate: number;
  /** Achieved full DORA exchanges per second: ACKs received ÷ the sending period (DISCOVERs sent ÷ offered rate). */
  doraPerSecond: number;
  /** perfdhcp's own "Rate" line (its clock includes the exit wait, so it reads low). */
  perfdhcpRate: number;
  discover: Exchange;
  request: Exchange;
  /** Share of DISCOVERs that never ended in an ACK, in percent. */
  dropPct: number;
  /** With timers: DISCOVER->OFFER delay percentiles from perfdhcp's own timestamps. */
  offerDelays?: Delays;
  command: string;
  output: string;
}

function section(out: string, name: string): Exchange {
  const start = out.indexOf(`***Statistics for: ${name}***`);
  const next = start >= 0 ? out.indexOf('***Statistics for:', start + 10) : -1;
  const text = start >= 0 ? out.slice(start, next > 0 ? next : undefined) : '';
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    sent: num(/sent packets: (\d+)/),
    received: num(/received packets: (\d+)/),
    drops: num(/drops: (\d+)/),
    avgDelayMs: num(/avg delay: ([\d.]+) ms/),
    maxDelayMs: num(/max delay: ([\d.]+) ms/),
  };
}

/** Returns nearest-rank percentiles of values (ms). */
export function percentiles(values: number[]): Delays {
  const v = [...values].sort((a, b) => a - b);
  const at = (p: number) => (v.length === 0 ? NaN : v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]!);
  return { count: v.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/**
 * Returns the delays (ms) of one exchange from perfdhcp's `-x t` dump: after
 * "***Timestamps for packets: NAME***", one "sent / received: S / R" line (seconds) per answered exchange.
 */
export function parseTimers(out: string, name: 'DISCOVER-OFFER' | 'REQUEST-ACK'): number[] {
  return parseExchanges(out, name).map((x) => x.delayMs);
}

/** Returns each answered exchange of the `-x t` dump: when it was sent (s, perfdhcp's clock) and its delay (ms). */
export function parseExchanges(out: string, name: 'DISCOVER-OFFER' | 'REQUEST-ACK'): Array<{ sent: number; delayMs: number }> {
  const start = out.indexOf(`***Timestamps for packets: ${name}***`);
  if (start < 0) return [];
  const next = out.indexOf('***', start + 10 + name.length + 20);
  const text = out.slice(start, next > 0 ? next : undefined);
  const exchanges: Array<{ sent: number; delayMs: number }> = [];
  for (const m of text.matchAll(/sent \/ received: ([\d.]+) \/ ([\d.]+)/g)) exchanges.push({ sent: Number(m[1]), delayMs: (Number(m[2]) - Number(m[1])) * 1000 });
  return exchanges;
}

/** Returns the figures in perfdhcp's final report. */
export function parsePerfdhcp(out: string, rate: number): Omit<PerfResult, 'command' | 'output'> {
  const discover = section(out, 'DISCOVER-OFFER');
  const request = section(out, 'REQUEST-ACK');
  const perfdhcpRate = Number(/Rate: ([\d.]+) 4-way exchanges\/second/.exec(out)?.[1] ?? NaN);
  const acked = Number.isFinite(request.received) ? request.received : 0;
  return { rate, doraPerSecond: discover.sent > 0 ? acked / (discover.sent / rate) : 0, perfdhcpRate, discover, request, dropPct: discover.sent > 0 ? (1 - acked / discover.sent) * 100 : 100 };
}

/**
 * Runs `perfdhcp -4 -r RATE -R CLIENTS -n CLIENTS -p 120 -W 1s [-x t] -l IFACE SERVER` inside ns:
 * one exchange per client MAC (-R and -n alike), and answers to the last requests still count
 * (-W). baseMac (-b mac=…) draws the clients from another range of MACs. With timers, -x t dumps
 * every exchange's timestamps, read into offerDelays (the dump is dropped from `output` unless keepDump).
 */
export async function perfdhcp(o: { ns: string; iface: string; server: string; rate: number; clients: number; timers?: boolean; keepDump?: boolean; baseMac?: string }): Promise<PerfResult> {
  const args = ['-4', '-r', String(o.rate), '-R', String(o.clients), '-n', String(o.clients), '-p', '120', '-W', '1000000', ...(o.baseMac ? ['-b', `mac=${o.baseMac}`] : []), ...(o.timers ? ['-x', 't'] : []), '-l', o.iface, o.server];
  const r = await run('perfdhcp', args, { ns: o.ns, timeoutMs: 200_000 });
  // perfdhcp exits 3 when packets were dropped; its report is complete all the same.
  if (!/Statistics for: DISCOVER-OFFER/.test(r.stdout)) throw new Error(`perfdhcp gave no report (exit ${r.code}): ${r.stderr || r.stdout}`);
  const result: PerfResult = { ...parsePerfdhcp(r.stdout, o.rate), command: commandLine('perfdhcp', args), output: r.stdout };
  if (o.timers) {
    result.offerDelays = percentiles(parseTimers(r.stdout, 'DISCOVER-OFFER'));
    const cut = r.stdout.indexOf('***Timestamps for packets:');
    if (!o.keepDump) result.output = cut > 0 ? `${r.stdout.slice(0, cut)}(per-exchange timestamps left out)\n` : r.stdout;
  }
  return result;
}
