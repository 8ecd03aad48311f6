// Figure 4: an install tree read straight out of an ISO. A 1 GiB random file goes into an ISO built
// by xorriso (with a .treeinfo so kickstand detects the distro); kickstand serves it at
// /trees/<distro>/bench/big.img and nginx serves the same file extracted on disk. Single-stream
// throughput with curl, alternating rounds; then kickstand's RSS while 50 curl range downloads
// (1/50 of the file each) run at once, every range checked by sha256.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startService } from '../lib/kickstand.ts';
import { startNginx } from '../lib/peers.ts';
import { commandLine, run, start } from '../lib/procs.ts';
import { hashFile, hashStream, writeRandomFile } from '../lib/files.ts';
import { fmt, median, ratio } from '../lib/result.ts';
import { Sampler, memory, mib } from '../lib/sample.ts';
import type { Figure } from './types.ts';

const MiB = 1024 * 1024;
const HOST = '127.0.0.1';
export const FILE_BYTES = 1024 * MiB;
export const PARALLEL = 50;

/** Builds src/ (a .treeinfo tree holding bench/big.img) and its ISO; returns the file's sha256. */
async function buildTree(dir: string, size: number): Promise<{ src: string; iso: string; sha256: string; command: string }> {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'images', 'pxeboot'), { recursive: true });
  mkdirSync(join(src, 'bench'), { recursive: true });
  writeFileSync(join(src, '.treeinfo'), '[general]\nfamily = Rocky Linux\nversion = 9.4\narch = x86_64\n\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n');
  writeFileSync(join(src, 'images', 'pxeboot', 'vmlinuz'), randomBytes(64 * 1024));
  writeFileSync(join(src, 'images', 'pxeboot', 'initrd.img'), randomBytes(256 * 1024));
  const sha256 = await writeRandomFile(join(src, 'bench', 'big.img'), size);
  mkdirSync(join(dir, 'isos'), { recursive: true });
  const iso = join(dir, 'isos', 'bench-tree.iso');
  const args = ['-report_about', 'FAILURE', '-outdev', iso, '-volid', 'BENCH_TREE', '-map', src, '/'];
  const r = await run('xorriso', args, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`xorriso failed: ${r.stderr}`);
  // Older than the catalog's settle time, so the service takes it at start.
  const past = new Date(Date.now() - 3600_000);
  utimesSync(iso, past, past);
  return { src, iso, sha256, command: commandLine('xorriso', args).split(dir).join('$TMP') };
}

/** Downloads url once with curl to /dev/null; returns bytes per second and the byte count. */
async function curlOnce(url: string): Promise<{ bps: number; bytes: number }> {
  const r = await run('curl', ['-s', '-f', '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', url], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`curl ${url} exited ${r.code}`);
  const [bytes, bps] = r.stdout.trim().split(' ').map(Number);
  return { bps, bytes };
}

/** Runs PARALLEL range downloads at once; returns the seconds taken and how many were byte-correct. */
async function ranges(url: string, want: string[], size: number): Promise<{ seconds: number; correct: number }> {
  const part = Math.ceil(size / want.length);
  const t0 = performance.now();
  const ok = await Promise.all(
    want.map((sha, i) => {
      const from = i * part;
      const to = Math.min(size, from + part) - 1;
      const p = start(`range-${i}`, 'curl', ['-s', '-f', '-r', `${from}-${to}`, url], { pipeStdout: true });
      return Promise.all([hashStream(p.child.stdout!), p.exited]).then(([h, code]) => code === 0 && h.sha256 === sha);
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, correct: ok.filter(Boolean).length };
}

export const treeFigure: Figure = async (ctx) => {
  const size = ctx.quick ? 256 * MiB : FILE_BYTES;
  const rounds = ctx.quick ? 1 : 3;
  ctx.log(`building a ${size / MiB} MiB file and its ISO`);
  const tree = await buildTree(ctx.dir, size);
  const part = Math.ceil(size / PARALLEL);
  const want: string[] = [];
  for (let i = 0; i < PARALLEL; i++) want.push((await hashFile(join(tree.src, 'bench', 'big.img'), i * part, Math.min(size, (i + 1) * part))).sha256);
  await run('sh', ['-c', `cat '${tree.iso}' '${join(tree.src, 'bench', 'big.img')}' > /dev/null`]);

  const svc = await startService({ dir: ctx.dir, host: HOST, cpuProfileDir: ctx.profileDir, settings: { ISOS_DIR: join(ctx.dir, 'isos'), TFTP__HOST: HOST } });
  const distros = await svc.api<{ distros: Array<{ name: string; source: string }> }>('GET', '/api/v1/distros');
  const distro = distros.body.distros.find((d) => d.source === 'iso')?.name;
  if (!distro) throw new Error(`the ISO was not detected: ${JSON.stringify(distros.body)}`);
  const nginx = await startNginx(ctx.dir, tree.src, HOST, 8081);
  const ksUrl = `${svc.base}/trees/${distro}/bench/big.img`;
  const nginxUrl = `http://${HOST}:8081/bench/big.img`;

  const check = start('check', 'curl', ['-s', '-f', ksUrl], { pipeStdout: true });
  const [whole, code] = await Promise.all([hashStream(check.child.stdout!), check.exited]);
  if (code !== 0 || whole.sha256 !== tree.sha256) throw new Error(`kickstand served ${whole.bytes} bytes with the wrong sha256 (curl exit ${code})`);

  const speeds = { kickstand: [] as number[], nginx: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    speeds.nginx.push((await curlOnce(nginxUrl)).bps);
    speeds.kickstand.push((await curlOnce(ksUrl)).bps);
    ctx.log(`round ${i + 1}: nginx ${fmt(speeds.nginx[i] / MiB)} MiB/s, kickstand ${fmt(speeds.kickstand[i] / MiB)} MiB/s`);
  }
  const before = memory(svc.proc.pid);
  const sampler = new Sampler(svc.proc.pid, 20);
  const ksRanges = await ranges(ksUrl, want, size);
  const s = sampler.stop();
  const nginxRanges = await ranges(nginxUrl, want, size);
  ctx.log(`${PARALLEL} ranges: kickstand ${ksRanges.seconds.toFixed(1)} s, RSS ${mib(before.rss)} → ${mib(s.rssMax)} MiB; nginx ${nginxRanges.seconds.toFixed(1)} s`);
  await nginx.proc.stop();
  await svc.stop();

  const k = median(speeds.kickstand);
  const n = median(speeds.nginx);
  const growth = s.rssMax - before.rss;
  const mbps = (bps: number) => `${fmt(bps / MiB)} MiB/s`;
  return {
    title: 'Install tree from an ISO over HTTP',
    tables: [
      {
        caption: `A ${size / MiB} MiB file: single stream with curl (median of ${rounds} alternating rounds, page cache warm); ${PARALLEL} parallel range downloads of 1/${PARALLEL} each`,
        columns: ['server', 'single stream', `${PARALLEL} ranges at once`, 'RSS during the ranges', 'CPU during the ranges'],
        rows: [
          ['kickstand (from the ISO)', mbps(k), `${ksRanges.seconds.toFixed(2)} s, ${ksRanges.correct}/${PARALLEL} correct`, `${mib(before.rss)} → peak ${mib(s.rssMax)} MiB (+${mib(growth)})`, `${s.cpuAvgPct.toFixed(0)}% of one core`],
          ['nginx (extracted file)', mbps(n), `${nginxRanges.seconds.toFixed(2)} s, ${nginxRanges.correct}/${PARALLEL} correct`, '', ''],
        ],
      },
    ],
    checks: [
      { target: 'single stream ≥ 0.8× nginx', measured: `${mbps(k)} vs ${mbps(n)}`, ratio: ratio(k, n), pass: k >= 0.8 * n },
      { target: `RSS growth < 64 MiB with ${PARALLEL} parallel ranges`, measured: `+${mib(growth)} MiB`, pass: growth < 64 * MiB },
      { target: 'bytes served from the ISO equal the file (sha256: whole file and every range)', measured: `whole file ok, ${ksRanges.correct}/${PARALLEL} ranges`, pass: ksRanges.correct === PARALLEL },
    ],
    commands: [
      tree.command,
      `curl -s -f -o /dev/null -w '%{size_download} %{speed_download}' http://${HOST}:8080/trees/${distro}/bench/big.img`,
      `curl -s -f -o /dev/null -w '%{size_download} %{speed_download}' ${nginxUrl}`,
      `curl -s -f -r FROM-TO http://${HOST}:8080/trees/${distro}/bench/big.img | sha256sum   # ${PARALLEL} at once`,
      svc.command,
      nginx.command,
    ],
    notes: [
      `RSS is VmRSS from /proc/<pid>/status sampled every 20 ms; the baseline is taken after the single-stream rounds, just before the ${PARALLEL} ranges start.`,
      'nginx sends the file with sendfile(2) from the page cache; kickstand reads the ISO extent with positioned reads into reused buffers and writes them to the socket.',
    ],
    raw: { speeds, ksRanges, nginxRanges, sample: s, rssBefore: before },
  };
};
