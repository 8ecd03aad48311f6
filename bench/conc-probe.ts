// By-hand probe (not a figure): N concurrent curl fetches of a 30 MiB file against kickstand and
// tftpd-hpa, interleaved rounds, with server CPU, machine CPU, the load average, peak RSS and context
// switches per round: for finding what bounds the TFTP figure, not part of `npm run bench`.
//   node --import tsx bench/conc-probe.ts [COUNT=200] [ROUNDS=1] [kickstand,tftpd-hpa] ['{"TFTP__ENGINE":"js"}']
// (PROBE_PROF=DIR writes kickstand's CPU profile there.)
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startService } from './lib/kickstand.ts';
import { startTftpdHpa } from './lib/peers.ts';
import { start, stopAll } from './lib/procs.ts';
import { hashStream, writeRandomFile } from './lib/files.ts';
import { memory } from './lib/sample.ts';
import { counterDelta, tftpCounters } from './figures/tftp.ts';

const count = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 1);
const which = (process.argv[4] ?? 'kickstand,tftpd-hpa').split(',');
const extra = JSON.parse(process.argv[5] ?? '{}') as Record<string, string>;
const HOST = '127.0.0.1';
const dir = mkdtempSync('/tmp/ks-probe-');
const root = join(dir, 'root');
mkdirSync(root, { mode: 0o755 });
const sha = await writeRandomFile(join(root, 'initrd.img'), 30 * 1024 * 1024);
const svc = which.includes('kickstand') ? await startService({ dir, host: HOST, port: 18080, cpuProfileDir: process.env.PROBE_PROF, settings: { TFTP__HOST: HOST, TFTP__PORT: '16969', TFTP__ROOTS: JSON.stringify([root]), TFTP__MAX_TRANSFERS: '1100', ...extra } }) : null;
const hpa = which.includes('tftpd-hpa') ? await startTftpdHpa(root, HOST, dir, 11069) : null;
const ports: Record<string, number> = { kickstand: 16969, 'tftpd-hpa': 11069 };
const switches = (pid: number) => { let v = 0, n = 0; try { for (const t of readdirSync(`/proc/${pid}/task`)) { const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'); v += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0); n += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0); } } catch { /* gone */ } return { v, n }; };
/** utime+stime+cutime+cstime: tftpd-hpa's forked transfers count once reaped. */
const cpuAll = (pid: number) => { try { const r = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = r.slice(r.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100; } catch { return 0; } };
const busy = () => { const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number); const idle = f[3]! + f[4]!; const tot = f.reduce((a, b) => a + b, 0); return { idle, tot }; };
try {
  for (let r = 0; r < rounds; r++) {
    for (const s of which) {
      const pid = s === 'kickstand' ? svc!.proc.pid : hpa!.proc.pid;
      const s0 = switches(pid);
      const c0 = cpuAll(pid); const b0 = busy(); const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const k0 = s === 'kickstand' ? await tftpCounters(svc!.base) : null;
      const t0 = performance.now(); let rssMax = 0;
      const iv = setInterval(() => { rssMax = Math.max(rssMax, memory(pid).rss); }, 500);
      const jobs: Array<Promise<boolean>> = [];
      for (let i = 0; i < count; i++) {
        const a = `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
        const p = start(`curl-${i}`, 'curl', ['-s', '-f', '--max-time', '1800', '--interface', a, '--tftp-blksize', '1468', `tftp://${HOST}:${ports[s]}/initrd.img`], { pipeStdout: true });
        jobs.push(Promise.all([hashStream(p.child.stdout!), p.exited]).then(([h, code]) => code === 0 && h.sha256 === sha));
      }
      const ok = (await Promise.all(jobs)).filter(Boolean).length;
      clearInterval(iv);
      const sec = (performance.now() - t0) / 1000; const b1 = busy();
      const machine = 1 - (b1.idle - b0.idle) / (b1.tot - b0.tot);
      console.log(`round ${r + 1} ${s}: ${count} → ${ok} ok in ${sec.toFixed(1)} s; server cpu ${(cpuAll(pid) - c0).toFixed(1)} s (with reaped children); machine busy ${(machine * 100).toFixed(0)}%; load at start ${load}; rss max ${(rssMax / 1048576).toFixed(0)} MiB; switches vol ${switches(pid).v - s0.v} invol ${switches(pid).n - s0.n}${k0 ? `; ${counterDelta(k0, await tftpCounters(svc!.base))}` : ''}`);
    }
  }
} finally {
  await svc?.stop(); await hpa?.proc.stop(); await stopAll();
}
