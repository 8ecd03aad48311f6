// Figure 5: a boot storm. kickstand runs as the real service in the server namespace with DHCP in
// full mode on the veth; 1,000 systems are registered and armed through the API; the simulator
// (bench/storm/sim.ts) runs in the client namespace and starts the machines evenly over 10 s, each
// from its own leased address (the pool's addresses are put on the client's veth beforehand).
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ip } from '../../test/system/lib/netns.ts';
import { ROOT, benchMac, startService, type Service } from '../lib/kickstand.ts';
import { start } from '../lib/procs.ts';
import { fmt, percentile } from '../lib/result.ts';
import { Sampler, memory, mib } from '../lib/sample.ts';
import type { MachineRecord } from '../storm/sim.ts';
import type { Figure } from './types.ts';

export const MACHINES = 1000;
export const RAMP_MS = 10_000;
/** Pool of 1,024 addresses (10.233.1.0 – 10.233.4.255), all present on the client's veth. */
const POOL = { start: '10.233.1.0', end: '10.233.4.255', blocks: [1, 2, 3, 4] };
const STAGES: Array<{ key: keyof MachineRecord['stages']; label: string; transfer?: boolean }> = [
  { key: 'dhcp', label: 'DHCP (DORA)' },
  { key: 'tftp-loader-first', label: 'TFTP pxelinux.0: first answer' },
  { key: 'tftp-loader', label: 'TFTP pxelinux.0 + ldlinux.c32 (transfer)', transfer: true },
  { key: 'tftp-config', label: 'TFTP pxelinux.cfg (UUID miss + 01-MAC)' },
  { key: 'kickstart', label: 'HTTP kickstart' },
  { key: 'event', label: 'HTTP event (each of 5)' },
  { key: 'total', label: 'whole machine, DHCP to built', transfer: true },
];

/** Registers count armed systems through the API, a few at a time; returns the seconds taken. */
async function register(svc: Service, macs: string[]): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < macs.length) {
      const i = next++;
      const r = await svc.api('POST', '/api/v1/systems', { name: `storm-${String(i).padStart(4, '0')}`, macs: [macs[i]], hostname: `storm-${i}`, profile: 'centos44-hvm', build: true });
      if (r.status !== 201) throw new Error(`registering storm-${i}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return (performance.now() - t0) / 1000;
}

export const stormFigure: Figure = async (ctx) => {
  if (!ctx.client) throw new Error('the storm figure needs a client namespace');
  const c = ctx.client;
  const count = ctx.quick ? 100 : MACHINES;
  const batch = POOL.blocks.flatMap((b) => Array.from({ length: 256 }, (_, i) => `addr add 10.233.${b}.${i}/32 dev ${c.clientIf}`)).join('\n');
  writeFileSync(join(ctx.dir, 'addrs.batch'), `${batch}\n`);
  ip('-n', c.ns, '-batch', join(ctx.dir, 'addrs.batch'));
  ip('-n', c.ns, 'route', 'add', 'default', 'dev', c.clientIf);

  const subnet = { network: '10.233.0.0', mask: '255.255.0.0', router: c.serverIp, pool_start: POOL.start, pool_end: POOL.end, lease_seconds: 3600 };
  const svc = await startService({
    dir: ctx.dir,
    host: '127.0.0.1',
    cpuProfileDir: ctx.profileDir,
    settings: { HTTP__HOST: '0.0.0.0', TFTP__HOST: '0.0.0.0', TFTP__PORT: '69', DHCP__MODE: 'full', DHCP__INTERFACE: c.serverIf, DHCP__SERVER_IP: c.serverIp, DHCP__SUBNET: JSON.stringify(subnet) },
  });
  const macs = Array.from({ length: count }, (_, i) => benchMac(0x100000 + i));
  ctx.log(`registering ${count} systems`);
  const regSeconds = await register(svc, macs);
  const rssBefore = memory(svc.proc.pid).rss;

  const cfg = join(ctx.dir, 'sim.json');
  const out = join(ctx.dir, 'sim-result.json');
  writeFileSync(cfg, JSON.stringify({ macs, rampMs: RAMP_MS, out }));
  ctx.log(`${count} machines over ${RAMP_MS / 1000} s`);
  const sampler = new Sampler(svc.proc.pid, 500);
  const sim = start('storm-sim', process.execPath, ['--import', 'tsx', 'bench/storm/sim.ts', cfg], { ns: c.ns, cwd: ROOT, logFile: join(ctx.dir, 'sim.log') });
  const timeout = setTimeout(() => void sim.stop(2000), 240_000);
  const code = await sim.exited;
  clearTimeout(timeout);
  const s = sampler.stop();
  ctx.log(readFileSync(join(ctx.dir, 'sim.log'), 'utf8').trim());
  if (code !== 0) throw new Error(`the simulator exited ${code}: ${readFileSync(join(ctx.dir, 'sim.log'), 'utf8').slice(-2000)}`);
  const { seconds, records } = JSON.parse(readFileSync(out, 'utf8')) as { seconds: number; records: MachineRecord[] };
  const systems = await svc.api<{ systems: Array<{ name: string; state: string }> }>('GET', '/api/v1/systems');
  const built = systems.body.systems.filter((x) => x.name.startsWith('storm-') && x.state === 'built').length;
  const hwm = memory(svc.proc.pid).hwm;
  await svc.stop();

  const ok = records.filter((r) => r.ok);
  const failures = records.filter((r) => !r.ok);
  const values = (key: keyof MachineRecord['stages']) => ok.flatMap((r) => (key === 'event' ? r.stages.event : r.stages[key] === undefined ? [] : [r.stages[key] as number]));
  const rows = STAGES.map((st) => {
    const v = values(st.key);
    return [st.label, fmt(v.length), fmt(percentile(v, 50), 1), fmt(percentile(v, 99), 1), fmt(Math.max(...v), 1)];
  });
  const slow = STAGES.filter((st) => !st.transfer && percentile(values(st.key), 99) >= 1000).map((st) => st.label);
  const dhcpResent = ok.filter((r) => (r.dhcpSent ?? 2) > 2).length;
  const tftpResent = ok.reduce((a, r) => a + r.tftpRetransmits, 0);
  return {
    title: 'Boot storm',
    tables: [
      {
        caption: `${count} simulated BIOS PXE machines started evenly over ${RAMP_MS / 1000} s; ${ok.length} completed in ${seconds.toFixed(1)} s. Milliseconds per stage, measured by the simulator:`,
        columns: ['stage', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
        rows,
      },
      {
        caption: 'kickstand during the storm',
        columns: ['peak RSS (VmHWM, since start)', 'RSS before → max during', 'CPU avg', 'CPU peak (0.5 s)', 'registering the systems over the API'],
        rows: [[`${mib(hwm)} MiB`, `${mib(rssBefore)} → ${mib(s.rssMax)} MiB`, `${s.cpuAvgPct.toFixed(0)}% of one core`, `${s.cpuPeakPct.toFixed(0)}%`, `${count} in ${regSeconds.toFixed(1)} s (${fmt(count / regSeconds)}/s)`]],
      },
    ],
    checks: [
      { target: `all ${count} machines built`, measured: `${ok.length} completed, ${built} built in the store${failures.length ? `; first failure: ${failures[0].mac}: ${failures[0].error}` : ''}`, pass: ok.length === count && built === count },
      { target: 'p99 < 1 s for every stage but TFTP transfer', measured: slow.length ? `over 1 s: ${slow.join(', ')}` : `worst: ${Math.max(...STAGES.filter((x) => !x.transfer).map((x) => percentile(values(x.key), 99))).toFixed(0)} ms`, pass: slow.length === 0 },
      { target: 'peak RSS < 300 MiB', measured: `${mib(hwm)} MiB`, pass: hwm < 300 * 1024 * 1024 },
    ],
    commands: [svc.command.replace(c.serverIf, '<veth>'), `node --import tsx bench/storm/sim.ts sim.json   # in the client namespace: {"macs":[${count} MACs],"rampMs":${RAMP_MS}}`],
    notes: [
      'Each machine: DISCOVER/REQUEST with PXE options (broadcast), the firmware\'s tsize probe and then pxelinux.0 (blksize 1456), ldlinux.c32, pxelinux.cfg/<uuid> (not found) and pxelinux.cfg/01-<mac> (blksize 1408), the kickstart from the menu\'s ks= URL, and five step reports ending in built. Each TFTP transfer and HTTP request comes from the machine\'s leased address on a fresh socket.',
      `Retransmissions: ${dhcpResent} machines resent a DHCP message (timeouts 1, 2, 4, 8 s), ${tftpResent} TFTP packets resent (1 s timeout).`,
      'kickstand runs at its default log level (info), which writes a line per DHCP answer and per lifecycle event. The simulator shares the two cores with kickstand, so its own event loop adds to every latency.',
    ],
    raw: { seconds, regSeconds, sample: s, hwm, built, failures: failures.slice(0, 20) },
  };
};
