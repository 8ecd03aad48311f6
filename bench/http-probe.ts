// By-hand probe behind the kickstart repeat-fetch paragraph of bench/analysis.md: the same armed
// kickstart from `kickstand serve` run two ways (the compiled build, bin/kickstand.js, as figure 1
// runs it; and the TypeScript through tsx, as figure 1 ran it before the build existed) and from the
// bare node:http server, with figure 1's wrk command, in alternating rounds; prints each round and
// the medians. Not part of `npm run bench`.
//   node --import tsx bench/http-probe.ts [rounds=3] [seconds=5] [--prof]
// --prof writes a V8 CPU profile of each kickstand to artifacts/bench/http-probe/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, benchMac, registerArmed, startService, type Service } from './lib/kickstand.ts';
import { start, waitFor } from './lib/procs.ts';
import { wrk } from './lib/wrk.ts';
import { WRK } from './figures/http.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rounds = Number(args[0] ?? 3);
const seconds = Number(args[1] ?? 5);
const prof = process.argv.includes('--prof') ? join(ROOT, 'artifacts/bench/http-probe') : undefined;
if (prof) mkdirSync(prof, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'ks-http-probe-'));
const services: Array<{ name: string; svc: Service; url: string }> = [];
try {
  for (const [name, fromSource, port] of [['dist', false, 8090], ['tsx', true, 8091]] as const) {
    mkdirSync(join(dir, name));
    const svc = await startService({ dir: join(dir, name), port, fromSource, cpuProfileDir: prof, settings: { LOG_LEVEL: 'info', ...(process.env.PROBE_TFTP_ON === name ? {} : { TFTP__ENABLED: 'false' }) } });
    services.push({ name, svc, url: `${svc.base}${await registerArmed(svc, `probe-${name}`, benchMac(port))}` });
  }
  const body = Buffer.from(await (await fetch(services[0]!.url)).arrayBuffer());
  writeFileSync(join(dir, 'ks.txt'), body);
  const bare = start('bare-http', process.execPath, ['--import', 'tsx', 'bench/bare-http.ts', join(dir, 'ks.txt'), '8092'], { cwd: ROOT, logFile: join(dir, 'bare.log') });
  const targets = [...services.map((s) => ({ name: s.name, url: s.url })), { name: 'bare', url: 'http://127.0.0.1:8092/' }];
  try {
    await waitFor(async () => (await fetch(targets[2]!.url).catch(() => null))?.ok === true, 'the bare node:http server');
    for (const t of targets) await wrk(t.url, { ...WRK, seconds: 2 });
    const got = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let i = 0; i < rounds; i++) {
      const line: string[] = [];
      for (const t of targets) {
        const r = await wrk(t.url, { ...WRK, seconds });
        got.get(t.name)!.push(r.rps);
        line.push(`${t.name} ${Math.round(r.rps)}`);
      }
      console.log(`round ${i + 1}: ${line.join(', ')} req/s`);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const bareMed = med(got.get('bare')!);
    for (const [name, xs] of got) console.log(`${name}: median ${Math.round(med(xs))} req/s (${(med(xs) / bareMed).toFixed(2)}× bare)`);
  } finally {
    await bare.stop();
  }
} finally {
  for (const s of services) await s.svc.stop();
  rmSync(dir, { recursive: true, force: true });
}
