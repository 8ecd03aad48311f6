// Runs Kea's perfdhcp (Debian kea-admin) from the client namespace and parses its report.
import { commandLine, run } from './procs.ts';

/** One exchange's counters (DISCOVER-OFFER or REQUEST-ACK). */
export interface Exchange {
  sent: number;
  received: number;
  drops: number;
  avgDelayMs: number;
  maxDelayMs: number;
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

/** Returns the figures in perfdhcp's final report. */
export function parsePerfdhcp(out: string, rate: number): Omit<PerfResult, 'command' | 'output'> {
  const discover = section(out, 'DISCOVER-OFFER');
  const request = section(out, 'REQUEST-ACK');
  const perfdhcpRate = Number(/Rate: ([\d.]+) 4-way exchanges\/second/.exec(out)?.[1] ?? NaN);
  const acked = Number.isFinite(request.received) ? request.received : 0;
  return { rate, doraPerSecond: discover.sent > 0 ? acked / (discover.sent / rate) : 0, perfdhcpRate, discover, request, dropPct: discover.sent > 0 ? (1 - acked / discover.sent) * 100 : 100 };
}

/**
 * Runs `perfdhcp -4 -r RATE -R CLIENTS -n CLIENTS -p 120 -W 1s -l IFACE SERVER` inside ns: one
 * exchange per client MAC (-R and -n alike), and answers to the last requests still count (-W).
 */
export async function perfdhcp(o: { ns: string; iface: string; server: string; rate: number; clients: number }): Promise<PerfResult> {
  const args = ['-4', '-r', String(o.rate), '-R', String(o.clients), '-n', String(o.clients), '-p', '120', '-W', '1000000', '-l', o.iface, o.server];
  const r = await run('perfdhcp', args, { ns: o.ns, timeoutMs: 200_000 });
  // perfdhcp exits 3 when packets were dropped; its report is complete all the same.
  if (!/Statistics for: DISCOVER-OFFER/.test(r.stdout)) throw new Error(`perfdhcp gave no report (exit ${r.code}): ${r.stderr || r.stdout}`);
  return { ...parsePerfdhcp(r.stdout, o.rate), command: commandLine('perfdhcp', args), output: r.stdout };
}
