// Two `kickstand serve` instances on one PostgreSQL and one network (a bridge, each instance in a
// namespace of its own, DHCP full mode with load balancing), driven by the boot-storm simulator's
// clients (bench/storm: DHCP, TFTP and HTTP as PXE machines do, each machine from its own leased
// address): every machine is built exactly once, no address is held by two MACs, every report is
// recorded once; SIGKILL one instance mid-storm and the other takes over its clients and the storm
// still finishes with nothing lost; restarting it gives its buckets back.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { createNetns, ip, type Netns } from './lib/netns.ts';
import { addBridge, joinBridge } from './lib/bridge.ts';
import { startPostgres, type TestPostgres } from './lib/postgres.ts';
import { openPgStore, type PgStore } from '../../server/store/postgres.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { silentLogger } from '../../server/log.ts';
import { ROOT, benchMac } from '../../bench/lib/kickstand.ts';
import type { MachineRecord } from '../../bench/storm/sim.ts';
import { BucketMap, loadBalanceHash } from '../../server/dhcp/load-balance.ts';
import { PXE_CLIENT } from './fixtures/dhcp-harness.ts';

const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root (namespaces, port 67/69, PostgreSQL as its own user)';
const NET = '10.236';
const SERVERS = { a: `${NET}.0.1`, b: `${NET}.0.2` } as const;
const POOL = { start: `${NET}.1.0`, end: `${NET}.1.255` };
const LB = { heartbeat_ms: 500, max_response_delay_ms: 2000 };
const GUEST_STAGES = ['partitioned', 'formatted', 'kernel-installed', 'bootloader-installed', 'built'];

let pg: TestPostgres | null = null;
let dir = '';
let client: Netns | null = null;
const servers: Record<'a' | 'b', { ns: Netns; iface: string } | null> = { a: null, b: null };
const running: Array<{ child: ChildProcess }> = [];

/** Starts `kickstand serve` for instance name in its namespace on database url; resolves once DHCP listens. */
async function serve(name: 'a' | 'b', url: string, tag: string, mode: 'full' | 'proxy' = 'full'): Promise<{ child: ChildProcess; log: string }> {
  const s = servers[name]!;
  const data = join(dir, `${tag}-${name}`);
  mkdirSync(join(data, 'isos'), { recursive: true });
  const subnet = { network: `${NET}.0.0`, mask: '255.255.0.0', router: SERVERS.a, pool_start: POOL.start, pool_end: POOL.end, lease_seconds: 3600 };
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KICKSTAND_')) env[k] = v;
  Object.assign(env, {
    KICKSTAND_DATA_DIR: data,
    KICKSTAND_ISOS_DIR: join(data, 'isos'),
    KICKSTAND_STORE__URL: url,
    // A loaded CI machine may take more than the default 5 s to hand out a connection.
    KICKSTAND_STORE__CONNECT_TIMEOUT_MS: '30000',
    KICKSTAND_HTTP__HOST: '0.0.0.0',
    KICKSTAND_HTTP__PORT: '8080',
    KICKSTAND_TFTP__HOST: '0.0.0.0',
    KICKSTAND_TFTP__PORT: '69',
    KICKSTAND_DHCP__MODE: mode,
    KICKSTAND_DHCP__INTERFACE: s.iface,
    KICKSTAND_DHCP__SERVER_IP: SERVERS[name],
    ...(mode === 'full' ? { KICKSTAND_DHCP__SUBNET: JSON.stringify(subnet) } : {}),
    KICKSTAND_DHCP__LOAD_BALANCING: JSON.stringify({ this_server: name, peers: ['a', 'b'], ...LB }),
    KICKSTAND_AUTH__ADMIN_TOKEN: 'x'.repeat(32),
  });
  const log = join(dir, `${tag}-${name}.log`);
  const fd = openSync(log, 'a');
  const child = s.ns.spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve'], { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  running.push({ child });
  await until(() => /answering \d+ of 256 buckets/.test(readFileSync(log, 'utf8')) || child.exitCode !== null, 120_000, `instance ${name} listening`);
  if (child.exitCode !== null) throw new Error(`instance ${name} exited ${child.exitCode}:\n${readFileSync(log, 'utf8').slice(-3000)}`);
  return { child, log };
}

/** Kills a process by its PID (SIGKILL) and waits for it. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await gone;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Registers and arms count machines (MACs from offset) straight in the shared database. */
async function register(store: PgStore, offset: number, count: number): Promise<string[]> {
  const lifecycle = new Lifecycle({ store, log: silentLogger() });
  const macs = Array.from({ length: count }, (_, i) => benchMac(0x200000 + offset + i));
  for (const [i, mac] of macs.entries()) {
    const name = `ha-${offset + i}`;
    await store.createSystem({ name, macs: [mac], hostname: name, profile: 'centos44-hvm' }, Date.now());
    await lifecycle.arm(name, null, 'storm');
  }
  return macs;
}

/** Runs the storm simulator in the client namespace; returns its records. */
function storm(tag: string, macs: string[], rampMs: number): { done: Promise<MachineRecord[]>; child: ChildProcess } {
  const cfg = join(dir, `${tag}-sim.json`);
  const out = join(dir, `${tag}-sim-result.json`);
  writeFileSync(cfg, JSON.stringify({ macs, rampMs, out, attempts: 4, rebootMs: 500 }));
  const child = spawn('ip', ['netns', 'exec', client!.name, process.execPath, '--import', 'tsx', 'bench/storm/sim.ts', cfg], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c));
  child.stderr!.on('data', (c: Buffer) => (text += c));
  const done = new Promise<MachineRecord[]>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0 || !existsSync(out)) reject(new Error(`simulator exited ${code}: ${text.slice(-3000)}`));
      else resolve((JSON.parse(readFileSync(out, 'utf8')) as { records: MachineRecord[] }).records);
    });
  });
  return { done, child };
}

/** Asserts what both storms must leave: all built once, one MAC per address, each answered report recorded once. */
async function assertNothingLost(store: PgStore, records: MachineRecord[], prefix: string): Promise<void> {
  const failed = records.filter((r) => !r.ok);
  assert.equal(failed.length, 0, `failed machines: ${failed.slice(0, 5).map((r) => `${r.mac}: ${r.error} (earlier: ${r.earlier.join('; ')})`).join('\n')}`);
  const systems = (await store.listSystems()).filter((s) => s.name.startsWith(prefix));
  assert.equal(systems.length, records.length);
  for (const s of systems) assert.equal(s.state, 'built', `${s.name} is ${s.state}`);
  const byMac = new Map(records.map((r) => [r.mac, r]));
  for (const s of systems) {
    const events = await store.listEvents(s.name);
    const rec = byMac.get(s.macs[0]!)!;
    assert.equal(events.filter((e) => e.stage === 'built').length, 1, `${s.name}: built once`);
    for (const stage of GUEST_STAGES) {
      const answered = rec.reports.filter((r) => r.stage === stage && r.status === 200).length;
      const sent = rec.reports.filter((r) => r.stage === stage).length;
      const recorded = events.filter((e) => e.stage === stage).length;
      if (stage === 'built') continue;
      // A report that got its 200 is recorded exactly once; one that got no answer (its instance died) at most once.
      assert.ok(recorded >= answered && recorded <= sent, `${s.name} ${stage}: ${recorded} recorded, ${answered} answered of ${sent} sent`);
    }
  }
  const leases = await store.loadLeases();
  const live = leases.filter((l) => l.state === 'bound' && l.expiresAt > Date.now());
  const macsPerIp = new Map<string, Set<string>>();
  for (const l of leases) macsPerIp.set(l.ip, (macsPerIp.get(l.ip) ?? new Set()).add(l.mac));
  for (const [ipAddr, macs] of macsPerIp) assert.equal(macs.size, 1, `${ipAddr} held by ${[...macs].join(', ')}`);
  const finalIps = records.map((r) => r.ip);
  assert.equal(new Set(finalIps).size, finalIps.length, 'every machine ended on an address of its own');
  for (const r of records) assert.ok(live.some((l) => l.ip === r.ip && l.mac === r.mac), `${r.mac} has a bound lease on ${r.ip}`);
}

before(async () => {
  if (skip) return;
  ensurePackages(['pxelinux', 'syslinux-common']);
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'ks-ha-'));
  client = createNetns('ks-hac');
  const br = addBridge(client.name);
  for (const name of ['a', 'b'] as const) {
    const ns = createNetns(`ks-ha${name}`);
    servers[name] = { ns, iface: joinBridge(ns.name, `${SERVERS[name]}/16`, client.name, br) };
  }
  // The machines' addresses: the simulator sends each machine's TFTP and HTTP from its lease.
  const batch = Array.from({ length: 256 }, (_, i) => `addr add ${NET}.1.${i}/32 dev ${br}`).join('\n');
  writeFileSync(join(dir, 'addrs.batch'), `${batch}\naddr add ${NET}.0.200/16 dev ${br}\n`);
  ip('-n', client.name, '-batch', join(dir, 'addrs.batch'));
  // Broadcasts to 255.255.255.255 leave by the default route.
  ip('-n', client.name, 'route', 'add', 'default', 'dev', br);
});

after(async () => {
  for (const r of running) await kill(r.child);
  client?.cleanup();
  servers.a?.ns.cleanup();
  servers.b?.ns.cleanup();
  await pg?.stop();
  if (dir && !process.env.KICKSTAND_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
  else if (dir) process.stderr.write(`kept ${dir}\n`);
});

describe('two kickstand instances on one PostgreSQL, one network', { skip }, () => {
  test('a boot storm split across both: every machine built once, one MAC per address, every report recorded once', async () => {
    const url = await pg!.createDatabase('ha_storm');
    const [a, b] = [await serve('a', url, 'storm'), await serve('b', url, 'storm')];
    const store = await openPgStore({ url, listen: false });
    try {
      const macs = await register(store, 0, 120);
      const records = await storm('storm', macs, 6000).done;
      await assertNothingLost(store, records, 'ha-');
      const by = new Set(records.map((r) => r.server));
      assert.deepEqual([...by].sort(), [SERVERS.a, SERVERS.b], 'both instances answered machines');
      for (const r of records) assert.deepEqual(r.reports.map((x) => x.status), [200, 200, 200, 200, 200], `${r.mac}: every report answered`);
      assert.ok(records.every((r) => r.attempts === 1), 'nobody had to reboot');
    } finally {
      await store.close();
      await kill(a.child);
      await kill(b.child);
    }
  });

  test('SIGKILL one instance mid-storm: the other takes over and the storm finishes with nothing lost; restarted, it takes its buckets back', async () => {
    const url = await pg!.createDatabase('ha_kill');
    const a = await serve('a', url, 'kill');
    let b = await serve('b', url, 'kill');
    const store = await openPgStore({ url, listen: false });
    try {
      const macs = await register(store, 1000, 120);
      const run = storm('kill', macs, 8000);
      // Kill b once it is serving machines (a fixed delay missed that on a loaded machine).
      await until(() => /"dhcp ack"/.test(readFileSync(b.log, 'utf8')), 60_000, 'b acknowledges a machine');
      await kill(b.child);
      const killedAt = Date.now();
      await until(() => /answering 256 of 256 buckets/.test(readFileSync(a.log, 'utf8')), 15_000, 'a takes over all buckets');
      const tookOverMs = Date.now() - killedAt;
      assert.ok(tookOverMs < LB.max_response_delay_ms + 3 * LB.heartbeat_ms, `takeover after ${tookOverMs} ms`);
      const records = await run.done;
      await assertNothingLost(store, records, 'ha-');
      assert.ok(/"dhcp ack"/.test(readFileSync(b.log, 'utf8')), 'b was answering machines when it was killed');
      const primaryB = records.filter((r) => new BucketMap(['a', 'b'], 'a').primaryOf(loadBalanceHash(Buffer.from(r.mac.split(':').map((x) => parseInt(x, 16))))) === 'b');
      assert.ok(primaryB.some((r) => r.server === SERVERS.a), "a answered machines of b's buckets after the kill");

      b = await serve('b', url, 'kill-again');
      await until(() => (readFileSync(a.log, 'utf8').match(/answering 128 of 256 buckets/g) ?? []).length >= 2, 15_000, 'a gives b\'s buckets back');
      await until(() => /answering 128 of 256 buckets/.test(readFileSync(b.log, 'utf8')), 15_000, 'b answers its own again');
      await new Promise((r) => setTimeout(r, 3 * LB.heartbeat_ms));
      const more = await register(store, 2000, 30);
      const again = await storm('after', more, 2000).done;
      assert.equal(again.filter((r) => !r.ok).length, 0);
      assert.ok(again.some((r) => r.server === SERVERS.b), 'the restarted instance answers machines again');
      assert.ok(again.some((r) => r.server === SERVERS.a));
    } finally {
      await store.close();
      await kill(a.child);
      await kill(b.child);
    }
  });

  test('ProxyDHCP on both instances: each PXE client gets one proxy offer, from the instance of its bucket', async () => {
    const url = await pg!.createDatabase('ha_proxy');
    const a = await serve('a', url, 'proxy', 'proxy');
    const b = await serve('b', url, 'proxy', 'proxy');
    try {
      await new Promise((r) => setTimeout(r, 3 * LB.heartbeat_ms));
      const from = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const mac = `02:50:58:45:01:${i.toString(16).padStart(2, '0')}`;
        const out = client!.exec(process.execPath, ['--import', 'tsx', PXE_CLIENT, mac, SERVERS.a], { timeout: 30_000 });
        const offers = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: number; serverId: string }).filter((r) => r.type === 2);
        assert.equal(offers.length, 1, `${mac}: ${out}`);
        const expected = new BucketMap(['a', 'b'], 'a').primaryOf(loadBalanceHash(Buffer.from(mac.split(':').map((x) => parseInt(x, 16)))));
        assert.equal(offers[0]!.serverId, SERVERS[expected as 'a' | 'b'], `${mac} belongs to ${expected}`);
        from.add(offers[0]!.serverId);
      }
      assert.equal(from.size, 2, 'both instances answered some clients');
    } finally {
      await kill(a.child);
      await kill(b.child);
    }
  });
});
