// `npm run bench [-- FIGURE… ] [--profile] [--quick] [--keep] [--report] [--machines N]`: installs the peers, runs
// each figure in network namespaces of its own (one process per figure, bounded in time), stops
// whatever a figure left running by PID, deletes the namespaces, and writes BENCHMARKS.md.
// --profile: V8 CPU profiles of kickstand in artifacts/bench/ (not recorded); --quick: short runs
// (not recorded); --keep: keep each figure's folder in /tmp; --report: only rewrite BENCHMARKS.md;
// --machines N: the size of the storm and first-fetch figures (a resized run is not recorded).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, isRoot } from '../test/system/lib/apt.ts';
import { neighbourThresholds, raiseNeighbourRoom } from './lib/neigh.ts';
import { MACHINES as STORM_MACHINES } from './figures/storm.ts';
import { createNetns, ip, linkNetns, type Netns } from '../test/system/lib/netns.ts';
import { killPids, readPids } from './lib/procs.ts';
import { FIGURES, loadResults, saveResult, type FigureId, type FigureResult } from './lib/result.ts';
import { commitInfo, machineInfo } from './lib/machine.ts';
import { renderReport } from './lib/report.ts';
import { ROOT } from './lib/kickstand.ts';
import type { FigureContext, FigureOutput } from './figures/types.ts';

/** Debian packages the figures need. */
export const BENCH_PACKAGES = ['nginx', 'tftpd-hpa', 'dnsmasq-base', 'kea-dhcp4-server', 'kea-admin', 'wrk', 'atftp', 'curl', 'xorriso', 'pxelinux', 'syslinux-common', 'iproute2', 'hyperfine', 'postgresql'];
/** A figure that runs longer than this is stopped and reported as failed. */
export const FIGURE_TIMEOUT_MS = 15 * 60_000;
/**
 * Figures that need longer: TFTP moves 1,000 × 30 MiB to each of two servers at windowsize 1; DHCP
 * runs three interleaved rounds of four servers, each a ladder of 50,000-client steps (about 30 minutes).
 */
const FIGURE_TIMEOUTS: Partial<Record<FigureId, number>> = { tftp: 90 * 60_000, dhcp: 45 * 60_000 };
/** Addresses of the veth pair for the figures that need two namespaces (private to those namespaces). */
const LINKS: Partial<Record<FigureId, { server: string; client: string; prefix: number }>> = {
  dhcp: { server: '10.232.0.1', client: '10.232.0.2', prefix: 16 },
  storm: { server: '10.233.0.1', client: '10.233.0.2', prefix: 16 },
};

const args = process.argv.slice(2);
/** Options that take a value (`--machines 1000`): taken out of args before the flags are read. */
const valued: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--machines') {
    const v = args[i + 1];
    if (!v || !/^[1-9]\d*$/.test(v)) {
      console.error(`--machines needs a positive whole number, got ${JSON.stringify(v ?? '')}`);
      process.exit(2);
    }
    valued.machines = v;
    args.splice(i--, 2);
  }
}
const flags = new Set(args.filter((a) => a.startsWith('--')));
const picked = args.filter((a) => !a.startsWith('--'));
for (const p of picked) {
  if (!(FIGURES as readonly string[]).includes(p)) {
    console.error(`unknown figure ${JSON.stringify(p)} (one of ${FIGURES.join(', ')})`);
    process.exit(2);
  }
}
for (const f of flags) {
  if (!['--profile', '--quick', '--keep', '--report'].includes(f)) {
    console.error(`unknown option ${JSON.stringify(f)} (--profile, --quick, --keep, --report, --machines N)`);
    process.exit(2);
  }
}
/** Writes BENCHMARKS.md from the saved results and bench/analysis.md. */
function writeReport(): void {
  const analysis = join(ROOT, 'bench', 'analysis.md');
  writeFileSync(join(ROOT, 'BENCHMARKS.md'), renderReport(loadResults(), existsSync(analysis) ? readFileSync(analysis, 'utf8') : ''));
  console.log('wrote BENCHMARKS.md');
}
if (flags.has('--report')) {
  writeReport();
  process.exit(0);
}
if (!isRoot()) {
  console.error('npm run bench needs root: it installs peers with apt-get and creates network namespaces');
  process.exit(2);
}
const figures = (picked.length > 0 ? picked : [...FIGURES]) as FigureId[];

console.log(`installing peers if missing: ${BENCH_PACKAGES.join(' ')}`);
ensurePackages(BENCH_PACKAGES);
// Every figure runs the compiled build (bin/kickstand.js), as it ships.
if (spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) {
  console.error('npm run build failed');
  process.exit(1);
}

let current: { child: ReturnType<typeof spawn> | null; dir: string; nets: Netns[]; restore?: () => void } | null = null;

/** Stops the running figure's processes by PID, deletes its namespaces and puts host settings back. */
function cleanup(): void {
  if (!current) return;
  current.restore?.();
  if (current.child?.pid && current.child.exitCode === null) killPids([current.child.pid]);
  killPids(readPids(join(current.dir, 'pids')));
  for (const n of current.nets) n.cleanup();
  if (!flags.has('--keep')) rmSync(current.dir, { recursive: true, force: true });
  current = null;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`${sig}: stopping the running figure`);
    cleanup();
    process.exit(1);
  });
}

/** Runs one figure in fresh namespaces; returns its result or null when it failed. */
async function runFigure(id: FigureId): Promise<FigureResult | null> {
  const dir = mkdtempSync(join(tmpdir(), `ks-bench-${id}-`));
  chmodSync(dir, 0o755);
  current = { child: null, dir, nets: [] };
  const started = new Date();
  const t0 = performance.now();
  const load = Math.round(loadavg()[0] * 100) / 100;
  try {
    const server = createNetns('ks-bs-');
    current.nets.push(server);
    const ctx: Omit<FigureContext, 'log'> = { dir, ns: server.name, quick: flags.has('--quick'), ...(valued.machines ? { machines: Number(valued.machines) } : {}) };
    const link = LINKS[id];
    if (!link) {
      // getaddrinfo's AI_ADDRCONFIG ignores loopback: with no other address, in.tftpd cannot even
      // resolve "127.0.0.1". A veth pair inside the namespace (private address) gives it one.
      ip('-n', server.name, 'link', 'add', 'ksva', 'type', 'veth', 'peer', 'name', 'ksvb');
      ip('-n', server.name, 'addr', 'add', '10.234.0.1/30', 'dev', 'ksva');
      ip('-n', server.name, 'link', 'set', 'ksva', 'up');
      ip('-n', server.name, 'link', 'set', 'ksvb', 'up');
    } else {
      const client = createNetns('ks-bc-');
      current.nets.push(client);
      const { aIf, bIf } = linkNetns(server, `${link.server}/${link.prefix}`, client, `${link.client}/${link.prefix}`);
      ctx.client = { ns: client.name, serverIf: aIf, clientIf: bIf, serverIp: link.server, clientIp: link.client, prefix: link.prefix };
    }
    if (flags.has('--profile')) {
      ctx.profileDir = join(ROOT, 'artifacts', 'bench', id);
      mkdirSync(ctx.profileDir, { recursive: true });
    }
    const out = join(dir, 'result.json');
    // A storm's machines each have an address: room for them in the host's ARP table (bench/lib/neigh.ts),
    // given back by cleanup() after the figure or on a signal.
    const neighbours = id === 'storm' ? (ctx.machines ?? (ctx.quick ? 100 : STORM_MACHINES)) + 1024 : 0;
    current.restore = raiseNeighbourRoom(neighbours);
    if (neighbours > 0) ctx.neighbours = neighbourThresholds();
    const child = spawn('ip', ['netns', 'exec', server.name, process.execPath, '--import', 'tsx', 'bench/figure.ts', id, JSON.stringify(ctx), out], { cwd: ROOT, stdio: 'inherit' });
    current.child = child;
    const limitMs = FIGURE_TIMEOUTS[id] ?? FIGURE_TIMEOUT_MS;
    const timer = setTimeout(() => {
      console.error(`${id}: over ${limitMs / 60_000} minutes, stopping it`);
      if (child.pid) process.kill(child.pid, 'SIGTERM');
      setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 10_000).unref();
    }, limitMs);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    if (code !== 0 || !existsSync(out)) {
      console.error(`${id}: failed (exit ${code}); nothing recorded for it`);
      return null;
    }
    const output = JSON.parse(readFileSync(out, 'utf8')) as FigureOutput;
    return { id, date: started.toISOString(), seconds: (performance.now() - t0) / 1000, machine: { ...machine, load1: load, commit: commitInfo(ROOT) }, ...output };
  } finally {
    cleanup();
  }
}

const machine = machineInfo(ROOT);
/** Quick, profiled and resized runs are printed, never written to BENCHMARKS.md. */
const record = !flags.has('--quick') && !flags.has('--profile') && valued.machines === undefined;
let failed = 0;
for (const id of figures) {
  console.log(`figure ${id}: starting (1-minute load ${loadavg()[0].toFixed(2)})`);
  const r = await runFigure(id);
  if (!r) {
    failed++;
    continue;
  }
  if (!record) {
    console.log(`figure ${id}: ${flags.has('--quick') ? 'quick' : flags.has('--profile') ? 'profiled' : 'resized'} run, not recorded:\n${renderReport([r])}`);
    continue;
  }
  saveResult(r);
  for (const c of r.checks) console.log(`  ${c.pass ? 'pass' : 'FAIL'}  ${c.target}: ${c.measured}${c.ratio ? ` (${c.ratio})` : ''}`);
}
if (record) writeReport();
process.exitCode = failed > 0 ? 1 : 0;
