// The machine a figure ran on (cores, memory, CPU model, load) and the versions of Node, the
// kernel and every peer, read from dpkg so the report names exactly what was measured.
import { cpus, totalmem, loadavg, release } from 'node:os';
import { spawnSync } from 'node:child_process';

/** Where and with what a figure ran. */
export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** 1-minute load average when the figure started (the machine is shared). */
  load1: number;
  /** Debian package versions, by package name. */
  packages: Record<string, string>;
  /** The commit measured, with "+ uncommitted changes" when server/, templates/ or profiles/ differ from it. */
  commit: string;
}

/** Returns the checked-out commit and whether the code under test has uncommitted changes. */
export function commitInfo(root: string): string {
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--', 'server', 'native', 'templates', 'profiles'], { encoding: 'utf8' }).stdout?.replace(/\s+$/, '');
  return dirty ? `${head} + uncommitted changes in ${[...new Set(dirty.split('\n').map((l) => l.slice(3).split('/').slice(0, 2).join('/')))].join(', ')}` : head;
}

/** Debian packages whose versions the report lists. */
export const PEER_PACKAGES = ['nginx', 'tftpd-hpa', 'dnsmasq-base', 'kea-dhcp4-server', 'kea-admin', 'wrk', 'atftp', 'curl', 'xorriso', 'pxelinux', 'postgresql'];

/** Returns the installed version of each package ('' when absent). */
export function packageVersions(pkgs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pkgs) {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', p], { encoding: 'utf8' });
    out[p] = r.status === 0 ? r.stdout.trim() : '';
  }
  return out;
}

/** Returns the CPU model name as /proc/cpuinfo or lscpu gives it. */
function cpuModel(): string {
  const fromOs = cpus()[0]?.model?.trim();
  if (fromOs && fromOs !== 'unknown') return fromOs;
  const r = spawnSync('lscpu', [], { encoding: 'utf8' });
  return /^Model name:\s*(.+)$/m.exec(r.stdout ?? '')?.[1]?.trim() ?? 'unknown';
}

/** Returns the machine description for the report. */
export function machineInfo(root: string): MachineInfo {
  return {
    commit: commitInfo(root),
    cores: cpus().length,
    cpuModel: cpuModel(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    load1: Math.round(loadavg()[0] * 100) / 100,
    packages: packageVersions(PEER_PACKAGES),
  };
}
