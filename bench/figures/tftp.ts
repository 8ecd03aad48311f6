// Figure 2: TFTP on the namespace's loopback. The same 64 MiB file fetched by the same clients
// (atftp with blksize 1468 at windowsize 1 and 16, curl with blksize 1468) from kickstand (busy
// polling on and off), tftpd-hpa and dnsmasq, runs interleaved, medians reported; then 200 and
// 1,000 concurrent curl fetches of a 30 MiB file, each from its own 127.x address (as that many
// machines would), every one checked by sha256, timed as a whole, servers taking turns.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from '../lib/kickstand.ts';
import { startDnsmasqTftp, startTftpdHpa } from '../lib/peers.ts';
import { commandLine, run, start, type Proc } from '../lib/procs.ts';
import { hashFile, hashStream, writeRandomFile } from '../lib/files.ts';
import { fmt, median, ratio } from '../lib/result.ts';
import { Sampler, memory, mib } from '../lib/sample.ts';
import type { Figure } from './types.ts';

const MiB = 1024 * 1024;
const HOST = '127.0.0.1';
/** The transfer sizes the issue names. */
export const BIG_BYTES = 64 * MiB;
export const INITRD_BYTES = 30 * MiB;
export const CONCURRENT = 200;
export const STORM = 1000;
/** kickstand with its defaults, kickstand with busy polling off (tftp.busy_poll_us 0), and the two peers. */
const SERVERS = ['kickstand', 'kickstand, busy_poll_us 0', 'tftpd-hpa', 'dnsmasq'] as const;
type ServerName = (typeof SERVERS)[number];
/** The concurrent fetches run against these (the busy-poll-off row is there for the single transfers). */
const CONCURRENT_SERVERS: ServerName[] = ['kickstand', 'tftpd-hpa', 'dnsmasq'];
/** The 1,000-fetch storm: dnsmasq serves at most --tftp-max transfers (500 here) and refuses the rest, so it sits this one out. */
const STORM_SERVERS: ServerName[] = ['kickstand', 'tftpd-hpa'];

/** Each server listens on its own port so all run at once and runs can alternate (dnsmasq's TFTP port is fixed at 69). */
const PORTS: Record<ServerName, number> = { kickstand: 6969, 'kickstand, busy_poll_us 0': 6970, 'tftpd-hpa': 1069, dnsmasq: 69 };

interface ClientSpec {
  id: 'atftp-ws1' | 'curl-ws1' | 'atftp-ws16';
  label: string;
  argv(port: number, remote: string, local: string): [string, string[]];
}

const CLIENTS: ClientSpec[] = [
  { id: 'atftp-ws1', label: 'atftp, blksize 1468', argv: (p, r, l) => ['atftp', ['-g', '-r', r, '-l', l, '--option', 'blksize 1468', HOST, String(p)]] },
  { id: 'curl-ws1', label: 'curl, blksize 1468', argv: (p, r, l) => ['curl', ['-s', '-f', '--tftp-blksize', '1468', '-o', l, `tftp://${HOST}:${p}/${r}`]] },
  { id: 'atftp-ws16', label: 'atftp, blksize 1468, windowsize 16', argv: (p, r, l) => ['atftp', ['-g', '-r', r, '-l', l, '--option', 'blksize 1468', '--option', 'windowsize 16', HOST, String(p)]] },
];

/** Returns the n-th client address on the loopback (127.0.1.1, 127.0.1.2, …), one per simulated machine. */
function clientAddress(n: number): string {
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
}

/** What one round of concurrent fetches gave. */
interface Concurrent {
  seconds: number;
  correct: number;
  failed: number;
}

/** Fetches the file `count` times at once with curl, each from its own address; returns timing and correctness. */
async function concurrent(port: number, count: number, remote: string, want: string, size: number, maxTimeS: number): Promise<Concurrent> {
  const t0 = performance.now();
  const jobs: Array<Promise<boolean>> = [];
  for (let i = 0; i < count; i++) {
    const p: Proc = start(`curl-${i}`, 'curl', ['-s', '-f', '--max-time', String(maxTimeS), '--interface', clientAddress(i), '--tftp-blksize', '1468', `tftp://${HOST}:${port}/${remote}`], { pipeStdout: true });
    jobs.push(Promise.all([hashStream(p.child.stdout!), p.exited]).then(([h, code]) => code === 0 && h.sha256 === want && h.bytes === size));
  }
  const ok = await Promise.all(jobs);
  const correct = ok.filter(Boolean).length;
  return { seconds: (performance.now() - t0) / 1000, correct, failed: count - correct };
}

/** kickstand's TFTP counters from /metrics that say what a round cost it (retransmissions, timer expiries, failures). */
export async function tftpCounters(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^kickstand_tftp_(retransmissions|timeouts|packets_sent|unanswered)_total (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  out.failed = [...text.matchAll(/^kickstand_tftp_transfers_total\{outcome="(?:failed|unanswered)"\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  return out;
}

/** Says what the counters moved by between two reads. */
export function counterDelta(a: Record<string, number>, b: Record<string, number>): string {
  const d = (k: string) => (b[k] ?? 0) - (a[k] ?? 0);
  const sent = d('packets_sent');
  return `${sent} DATA/OACK packets sent, ${d('retransmissions')} of them again (${sent ? ((d('retransmissions') / sent) * 100).toFixed(2) : '0'} %), ${d('timeouts')} timer expiries, ${d('failed')} transfers failed or unanswered`;
}

/** Resets pid's VmHWM (peak RSS) so the next read is the peak since now; false when the kernel refuses (not root). */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Returns kickstand's own words on which TFTP engine it ran (its "tftp engine: …" log line). */
function engineLine(logFile: string): string {
  const m = /"msg":"tftp engine: ([^"]+)"/.exec(readFileSync(logFile, 'utf8'));
  return m ? `the ${m[1]!.replace(/^(\w+)/, '$1 TFTP engine')}` : 'an unknown TFTP engine (no "tftp engine" log line)';
}

/** Returns the round with the median time (a failed round counts as slowest). */
function medianRound(rounds: Concurrent[]): Concurrent {
  const sorted = [...rounds].sort((a, b) => (a.failed > 0 ? Infinity : a.seconds) - (b.failed > 0 ? Infinity : b.seconds) || a.seconds - b.seconds);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export const tftpFigure: Figure = async (ctx) => {
  const runs = ctx.quick ? 1 : 5;
  const concurrentRounds = ctx.quick ? 1 : 3;
  const count = ctx.quick ? 20 : CONCURRENT;
  const storm = ctx.quick ? 50 : STORM;
  const root = join(ctx.dir, 'tftp');
  mkdirSync(root, { recursive: true, mode: 0o755 });
  ctx.log('writing the 64 MiB and 30 MiB files');
  const bigSha = await writeRandomFile(join(root, 'big.bin'), BIG_BYTES);
  const initrdSha = await writeRandomFile(join(root, 'initrd.img'), INITRD_BYTES);
  // Downloads land in memory (tmpfs), so disk writeback never slows a client down.
  const scratch = mkdtempSync('/dev/shm/ks-bench-tftp-');
  const out = join(scratch, 'out.bin');
  const times: Record<ServerName, Record<string, number[]>> = { kickstand: {}, 'kickstand, busy_poll_us 0': {}, 'tftpd-hpa': {}, dnsmasq: {} };
  /** kickstand's CPU (% of one core) during its windowsize-1 transfers, with and without busy polling. */
  const ws1Cpu: Partial<Record<ServerName, number[]>> = { kickstand: [], 'kickstand, busy_poll_us 0': [] };
  const wrong: string[] = [];
  const rounds: Partial<Record<ServerName, Concurrent[]>> = {};
  const storms: Partial<Record<ServerName, Concurrent>> = {};
  const commands: string[] = [];
  const ksMemory: string[] = [];
  let stormRss = 0;
  const counters: string[] = [];

  const svc = await startService({ dir: ctx.dir, host: HOST, cpuProfileDir: ctx.profileDir, settings: { TFTP__HOST: HOST, TFTP__PORT: String(PORTS.kickstand), TFTP__ROOTS: JSON.stringify([root]), TFTP__MAX_TRANSFERS: String(STORM + 100) } });
  const offDir = join(ctx.dir, 'nopoll');
  mkdirSync(offDir, { recursive: true });
  const svcOff = await startService({ dir: offDir, host: HOST, port: 8079, settings: { TFTP__HOST: HOST, TFTP__PORT: String(PORTS['kickstand, busy_poll_us 0']), TFTP__ROOTS: JSON.stringify([root]), TFTP__BUSY_POLL_US: '0' } });
  const pidOf: Partial<Record<ServerName, number>> = { kickstand: svc.proc.pid, 'kickstand, busy_poll_us 0': svcOff.proc.pid };
  const hpa = await startTftpdHpa(root, HOST, ctx.dir, PORTS['tftpd-hpa']);
  const dnsmasq = await startDnsmasqTftp(root, HOST, ctx.dir, 500);
  commands.push(svc.command, svcOff.command, hpa.command, dnsmasq.command);
  try {
    // Single transfers: every client against every server, runs interleaved so drift hits all alike.
    for (const c of CLIENTS) for (const server of SERVERS) times[server][c.id] = [];
    for (let i = 0; i < runs; i++) {
      for (const c of CLIENTS) {
        for (const server of SERVERS) {
          rmSync(out, { force: true });
          const [cmd, args] = c.argv(PORTS[server], 'big.bin', out);
          const pid = c.id === 'atftp-ws1' ? pidOf[server] : undefined;
          const sampler = pid ? new Sampler(pid, 100) : null;
          const r = await run(cmd, args, { timeoutMs: 120_000 });
          if (sampler) ws1Cpu[server]!.push(sampler.stop().cpuAvgPct);
          const h = r.code === 0 ? await hashFile(out) : null;
          if (!h || h.sha256 !== bigSha) wrong.push(`${server} ${c.id} run ${i + 1}: exit ${r.code}${h ? `, ${h.bytes} bytes, sha256 mismatch` : ''}`);
          times[server][c.id].push(r.ms / 1000);
        }
      }
      ctx.log(`run ${i + 1}: ${SERVERS.map((sv) => `${sv} ${CLIENTS.map((c) => times[sv][c.id][i].toFixed(2)).join('/')} s`).join(', ')}`);
    }
    rmSync(scratch, { recursive: true, force: true });
    // Concurrent fetches: the servers take turns, round after round.
    for (let r = 0; r < concurrentRounds; r++) {
      for (const server of CONCURRENT_SERVERS) {
        const sampler = server === 'kickstand' ? new Sampler(svc.proc.pid, 100) : null;
        const before = server === 'kickstand' ? await tftpCounters(svc.base) : null;
        const got = await concurrent(PORTS[server], count, 'initrd.img', initrdSha, INITRD_BYTES, 240);
        (rounds[server] ??= []).push(got);
        const s = sampler?.stop();
        if (s) ksMemory.push(`${count} at once: RSS ${mib(s.rssStart)} → peak ${mib(s.rssMax)} MiB, CPU ${s.cpuAvgPct.toFixed(0)}% of one core`);
        if (before) counters.push(`${count} at once, round ${r + 1}: ${counterDelta(before, await tftpCounters(svc.base))}`);
        ctx.log(`round ${r + 1}: ${server} ${count} concurrent: ${got.seconds.toFixed(1)} s, ${got.correct} correct`);
      }
    }
    for (const server of STORM_SERVERS) {
      const ks = server === 'kickstand';
      // The kernel's peak (VmHWM, reset first) catches what a 250 ms sample misses.
      const hwmReset = ks && resetPeakRss(svc.proc.pid);
      const sampler = ks ? new Sampler(svc.proc.pid, 250) : null;
      const before = ks ? await tftpCounters(svc.base) : null;
      storms[server] = await concurrent(PORTS[server], storm, 'initrd.img', initrdSha, INITRD_BYTES, 1800);
      const s = sampler?.stop();
      if (s) {
        const hwm = hwmReset ? memory(svc.proc.pid).hwm : 0;
        stormRss = Math.max(s.rssMax, hwm);
        ksMemory.push(`${storm} at once: RSS ${mib(s.rssStart)} → peak ${mib(stormRss)} MiB (${hwmReset ? 'VmHWM, reset before the storm' : 'sampled every 250 ms'}), CPU ${s.cpuAvgPct.toFixed(0)}% of one core`);
      }
      if (before) counters.push(`${storm} at once: ${counterDelta(before, await tftpCounters(svc.base))}`);
      ctx.log(`${server} ${storm} concurrent: ${storms[server]!.seconds.toFixed(1)} s, ${storms[server]!.correct} correct`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await Promise.all([svc.stop(), svcOff.stop(), hpa.proc.stop(), dnsmasq.proc.stop()]);
  }

  const med = (s: ServerName, c: string) => median(times[s][c]);
  const rate = (s: number) => `${s.toFixed(2)} s (${fmt(BIG_BYTES / MiB / s)} MiB/s)`;
  const peers: ServerName[] = ['tftpd-hpa', 'dnsmasq'];
  const fasterPeer = (c: string): ServerName => (med('tftpd-hpa', c) <= med('dnsmasq', c) ? 'tftpd-hpa' : 'dnsmasq');
  // The best any peer does with any client: neither implements windowsize, so this is their best at windowsize 1.
  const peerBest = peers.flatMap((p) => CLIENTS.map((c) => ({ p, c: c.label, t: med(p, c.id) }))).sort((a, b) => a.t - b.t)[0]!;
  const p1 = fasterPeer('atftp-ws1');
  const k1 = med('kickstand', 'atftp-ws1');
  const k1off = med('kickstand, busy_poll_us 0', 'atftp-ws1');
  const k16 = med('kickstand', 'atftp-ws16');
  const conc = Object.fromEntries(CONCURRENT_SERVERS.map((s) => [s, medianRound(rounds[s]!)])) as Record<string, Concurrent>;
  const ks = conc.kickstand!;
  const hpaC = conc['tftpd-hpa']!;
  const ksStorm = storms.kickstand!;
  const hpaStorm = storms['tftpd-hpa']!;
  const cell = (c: Concurrent | undefined, n: number) => (c ? `${c.seconds.toFixed(1)} s, ${c.correct}/${n} correct` : '—');
  return {
    title: 'TFTP',
    tables: [
      {
        caption: `64 MiB file over the loopback, median of ${runs} interleaved runs (seconds, and MiB/s). tftpd-hpa and dnsmasq ignore the windowsize option and answer at windowsize 1`,
        columns: ['server', ...CLIENTS.map((c) => c.label)],
        rows: SERVERS.map((s) => [s, ...CLIENTS.map((c) => rate(med(s, c.id)))]),
      },
      {
        caption: `Concurrent fetches of a 30 MiB file with curl (blksize 1468, windowsize 1), each from its own address, all checked by sha256: ${count} at once (median of ${concurrentRounds} rounds, servers taking turns; curl --max-time 240) and ${storm} at once (one round each; --max-time 1800)`,
        columns: ['server', `${count} × 30 MiB`, `${storm} × 30 MiB`],
        rows: CONCURRENT_SERVERS.map((s) => [s, cell(conc[s], count), STORM_SERVERS.includes(s) ? cell(storms[s], storm) : 'not run (serves at most --tftp-max=500)']),
      },
    ],
    checks: [
      { target: `windowsize 1 (atftp), busy polling on: ≥ the faster peer (${p1})`, measured: `${k1.toFixed(2)} s vs ${med(p1, 'atftp-ws1').toFixed(2)} s`, ratio: ratio(med(p1, 'atftp-ws1'), k1), pass: k1 <= med(p1, 'atftp-ws1') },
      { target: `windowsize 1 (atftp), busy polling off (busy_poll_us 0): ≥ the faster peer (${p1})`, measured: `${k1off.toFixed(2)} s vs ${med(p1, 'atftp-ws1').toFixed(2)} s`, ratio: ratio(med(p1, 'atftp-ws1'), k1off), pass: k1off <= med(p1, 'atftp-ws1') },
      { target: `windowsize 16 (atftp): ≥ 3× the best any peer does with any client (${peerBest.p}, ${peerBest.c})`, measured: `${k16.toFixed(2)} s vs ${peerBest.t.toFixed(2)} s`, ratio: ratio(peerBest.t, k16), pass: k16 * 3 <= peerBest.t },
      { target: `${count} × 30 MiB at once: all byte-correct and ≥ 1.5× tftpd-hpa`, measured: `${ks.correct}/${count} correct in ${ks.seconds.toFixed(1)} s (tftpd-hpa: ${hpaC.correct}/${count} in ${hpaC.seconds.toFixed(1)} s)`, ratio: ratio(hpaC.seconds, ks.seconds), pass: ks.failed === 0 && ks.seconds * 1.5 <= hpaC.seconds },
      { target: `${storm} × 30 MiB at once: all byte-correct, kickstand RSS < 512 MiB, ≥ 1.0× tftpd-hpa`, measured: `${ksStorm.correct}/${storm} correct in ${ksStorm.seconds.toFixed(1)} s, peak RSS ${mib(stormRss)} MiB (tftpd-hpa: ${hpaStorm.correct}/${storm} in ${hpaStorm.seconds.toFixed(1)} s)`, ratio: ratio(hpaStorm.seconds, ksStorm.seconds), pass: ksStorm.failed === 0 && stormRss < 512 * MiB && ksStorm.seconds <= hpaStorm.seconds },
      { target: 'every single-file transfer byte-correct (sha256), all servers', measured: wrong.length === 0 ? 'all correct' : wrong.join('; '), pass: wrong.length === 0 },
    ],
    commands: [
      ...CLIENTS.map((c) => commandLine(...c.argv(PORTS.kickstand, 'big.bin', 'out.bin'))),
      `curl -s -f --max-time 240 --interface 127.0.X.Y --tftp-blksize 1468 tftp://${HOST}:${PORTS.kickstand}/initrd.img | sha256sum   # ${count} at once, one source address each (${storm} at once with --max-time 1800)`,
      ...commands,
    ],
    notes: [
      'Ratios are kickstand\'s throughput over the peer\'s (peer time ÷ kickstand time). Neither tftpd-hpa nor dnsmasq (nor any TFTP server Debian packages) implements RFC 7440 windowsize: they ignore the option and answer at windowsize 1, so the windowsize-16 check compares kickstand with the fastest time any peer reaches with any of the clients; the windowsize-1 rows compare like with like.',
      `kickstand: ${ksMemory.join('; ')}.`,
      `kickstand ran ${engineLine(svc.logFile)}; its counters (/metrics) per concurrent round: ${counters.join('; ')}.`,
      `Busy polling (tftp.busy_poll_us, default 100): after a send to a client whose last two answers each came within 100 µs, and only while at most 2 transfers run, kickstand keeps a transfer thread polling instead of sleeping, so the ACK is read without a wakeup. kickstand's CPU during the windowsize-1 transfers, median: ${median(ws1Cpu.kickstand!).toFixed(0)}% of one core with it, ${median(ws1Cpu['kickstand, busy_poll_us 0']!).toFixed(0)}% with it off; the busy_poll_us 0 row is the same build with it off. Many transfers never engage it.`,
      `All three servers run side by side on the namespace's loopback (kickstand on port ${PORTS.kickstand}, tftpd-hpa on ${PORTS['tftpd-hpa']}, dnsmasq on 69); the same commands are pointed at each port in turn.`,
      `The clients, the hashing of what they receive and the servers share the machine's cores: kickstand runs transfers on tftp.workers threads (one per core by default), tftpd-hpa forks one process per transfer. On a shared host every DATA packet wakes its client, which preempts the sending thread; no real network has its clients on the server's cores.`,
      'dnsmasq runs with --tftp-max=500 (its default is 50); kickstand runs with tftp.max_transfers raised above the storm size; tftpd-hpa forks one process per transfer.',
    ],
    raw: { times, rounds, storms, wrong },
  };
};
