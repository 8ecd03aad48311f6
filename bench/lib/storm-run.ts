// One boot storm against kickstand: one or two instances (each `kickstand serve` with DHCP full
// mode, TFTP and HTTP) on SQLite or on one PostgreSQL, the systems imported and armed first, the
// simulator (bench/storm/sim.ts) in the client namespace. Two instances share one link (a bridge
// in the client namespace) and split the clients by DHCP load balancing.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, type Netns } from '../../test/system/lib/netns.ts';
import { joinBridge } from '../../test/system/lib/bridge.ts';
import type { TestPostgres } from '../../test/system/lib/postgres.ts';
import { ROOT, importArmed, listAll, startService, type Service } from './kickstand.ts';
import { start } from './procs.ts';
import { Sampler, listenCounters, memory, type ListenCounters, type SampleSummary } from './sample.ts';
import type { MachineRecord } from '../storm/sim.ts';

/** Which store and how many instances. */
export interface StormVariant {
  key: string;
  label: string;
  store: 'sqlite' | 'postgres';
  instances: 1 | 2;
}

/** The link the storm runs over: the figure's namespace (instance a) and the client's bridge. */
export interface StormLab {
  /** Client namespace, holding the bridge and every machine's address. */
  clientNs: string;
  bridge: string;
  /** Instance a's interface and address, in the figure's own namespace. */
  serverIf: string;
  serverIp: string;
  /** Address instance b gets (on a namespace of its own joined to the bridge). */
  secondIp: string;
  prefix: number;
  subnet: Record<string, unknown>;
}

/** What one storm measured. */
export interface StormRun {
  variant: StormVariant;
  seconds: number;
  records: MachineRecord[];
  built: number;
  regSeconds: number;
  /** CPU seconds the simulator used. */
  simCpuSeconds: number;
  /** Per instance: sampled CPU and memory, peak RSS, RSS before, connections its namespace's listen queues dropped during the storm. */
  instances: Array<{ name: string; sample: SampleSummary; hwm: number; rssBefore: number; listen: ListenCounters }>;
  commands: string[];
}

/** Runs one storm of macs over rampMs; pg is the PostgreSQL server for the postgres variants. */
export async function runStorm(o: { dir: string; lab: StormLab; variant: StormVariant; macs: string[]; rampMs: number; pg: TestPostgres | null; profileDir?: string; log(line: string): void }): Promise<StormRun> {
  const { lab, variant } = o;
  const dir = join(o.dir, variant.key);
  mkdirSync(dir, { recursive: true });
  const url = variant.store === 'postgres' ? await o.pg!.createDatabase(`storm_${variant.key}`) : null;
  const peers = ['a', 'b'].slice(0, variant.instances);
  const settings = (name: string, iface: string, serverIp: string): Record<string, string> => ({
    HTTP__HOST: '0.0.0.0',
    TFTP__HOST: '0.0.0.0',
    TFTP__PORT: '69',
    DHCP__MODE: 'full',
    DHCP__INTERFACE: iface,
    DHCP__SERVER_IP: serverIp,
    DHCP__SUBNET: JSON.stringify(lab.subnet),
    ...(url ? { STORE__URL: url } : {}),
    ...(variant.instances > 1 ? { DHCP__LOAD_BALANCING: JSON.stringify({ this_server: name, peers }) } : {}),
  });
  const services: Service[] = [];
  let second: Netns | null = null;
  try {
    // Registered and armed before the service starts, the way an operator loads a fleet.
    o.log(`${variant.label}: registering and arming ${o.macs.length} systems (kickstand system import)`);
    const regSeconds = await importArmed({ dir: join(dir, 'a'), settings: settings('a', lab.serverIf, lab.serverIp) }, o.macs.map((mac, i) => ({ name: `storm-${String(i).padStart(5, '0')}`, mac })));
    services.push(await startService({ dir: join(dir, 'a'), host: '127.0.0.1', cpuProfileDir: o.profileDir, settings: settings('a', lab.serverIf, lab.serverIp) }));
    if (variant.instances > 1) {
      second = createNetns('ks-bs2-');
      const iface = joinBridge(second.name, `${lab.secondIp}/${lab.prefix}`, lab.clientNs, lab.bridge);
      services.push(await startService({ dir: join(dir, 'b'), ns: second.name, host: lab.secondIp, cpuProfileDir: o.profileDir, settings: settings('b', iface, lab.secondIp) }));
      // Load balancing holds a starting instance back for two heartbeats.
      await new Promise((r) => setTimeout(r, 3000));
    }
    const rssBefore = services.map((s) => memory(s.proc.pid).rss);
    const listenBefore = services.map((s) => listenCounters(s.proc.pid));
    const cfg = join(dir, 'sim.json');
    const out = join(dir, 'sim-result.json');
    writeFileSync(cfg, JSON.stringify({ macs: o.macs, rampMs: o.rampMs, out }));
    o.log(`${variant.label}: ${o.macs.length} machines over ${o.rampMs / 1000} s`);
    const samplers = services.map((s) => new Sampler(s.proc.pid, 500));
    const sim = start('storm-sim', process.execPath, ['--import', 'tsx', 'bench/storm/sim.ts', cfg], { ns: lab.clientNs, cwd: ROOT, logFile: join(dir, 'sim.log') });
    const timeout = setTimeout(() => void sim.stop(2000), o.rampMs + 300_000);
    const code = await sim.exited;
    clearTimeout(timeout);
    const samples = samplers.map((s) => s.stop());
    const listen = services.map((s, i): ListenCounters => {
      const now = listenCounters(s.proc.pid);
      return { listenOverflows: now.listenOverflows - listenBefore[i]!.listenOverflows, listenDrops: now.listenDrops - listenBefore[i]!.listenDrops };
    });
    o.log(readFileSync(join(dir, 'sim.log'), 'utf8').trim());
    if (code !== 0) throw new Error(`the simulator exited ${code}: ${readFileSync(join(dir, 'sim.log'), 'utf8').slice(-2000)}`);
    const { seconds, records, cpuSeconds: simCpuSeconds } = JSON.parse(readFileSync(out, 'utf8')) as { seconds: number; records: MachineRecord[]; cpuSeconds: number };
    // Every page, not the first 100.
    const built = (await listAll(services[0]!, 'state=built')).filter((x) => x.name.startsWith('storm-')).length;
    const instances = services.map((s, i) => ({ name: peers[i]!, sample: samples[i]!, hwm: memory(s.proc.pid).hwm, rssBefore: rssBefore[i]!, listen: listen[i]! }));
    const hide = (c: string) => c.split(o.dir).join('$TMP').replace(lab.serverIf, '<veth>').replace(url ?? '\u0000', '<postgres url>');
    return { variant, seconds, records, built, regSeconds, simCpuSeconds, instances, commands: services.map((s) => hide(s.command)) };
  } finally {
    for (const s of services) await s.stop();
    second?.cleanup();
  }
}
