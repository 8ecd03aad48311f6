// The trust model and the caps against real clients (issue 14): `kickstand serve` in a namespace
// with full-mode DHCP on a bridge; a guest and an attacker on the same bridge, each leased its own
// address by kickstand (busybox udhcpc). Under the default policy the attacker, sending the
// guest's MAC in anaconda's headers, ?mac=, /ipxe/<mac> and TFTP pxelinux.cfg/01-<mac>, gets no
// token and no kickstart and moves nothing, while the guest installs from its leased address.
// Then floods of unknown MACs (curl and tftp-hpa), step reports and installer logs stop at their caps.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { createNetns, ip, uniqueName, type Netns } from './lib/netns.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const NET = '10.236.14';
const SERVER = `${NET}.1`;
const GUEST_MAC = '02:4b:53:00:00:10';
const ATTACKER_MAC = '02:4b:53:00:00:66';
const ADMIN = 'trust-test-admin-token-0123456789';
const CAPS = { discovered_per_window: 20, discovered_window_seconds: 600, discovered_max: 30, max_events_per_run: 40, max_final_reports_per_run: 5, max_log_bytes: 65536, max_log_bytes_per_system: 204800 };
// Under CI a test that cannot run must fail, never skip.
const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root (namespaces, apt)';

/** Runs a command inside a namespace without blocking the loop (the server's logs keep flowing). */
function nsRun(ns: Netns, cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns.name, cmd, ...args], { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A client namespace on the bridge: its MAC, its leased address, and curl/tftp from it. */
interface Peer {
  ns: Netns;
  ip: string;
  /** curl from the peer; returns the HTTP status and body. */
  curl(path: string, args?: string[]): Promise<{ status: number; body: string }>;
  /** tftp-hpa from the peer; returns the file's text, or null when the transfer failed. */
  tftp(file: string): Promise<string | null>;
}

let dir: string;
let srv: Netns, guestNs: Netns, attackerNs: Netns;
let server: ChildProcess | null = null;
let guest: Peer, attacker: Peer;
let logFile: string;

/** Calls the API from the server's namespace with the admin token. */
async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '-H', `Authorization: Bearer ${ADMIN}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  const r = await nsRun(srv, 'curl', [...args, `http://${SERVER}:8080${path}`]);
  const i = r.stdout.lastIndexOf('\n');
  const text = r.stdout.slice(0, i);
  return { status: Number(r.stdout.slice(i + 1)), body: (text ? JSON.parse(text) : null) as T };
}

/** Links a fresh namespace to the bridge, sets its MAC and leases an address from kickstand with udhcpc. */
async function peer(prefix: string, mac: string): Promise<Peer> {
  const ns = createNetns(prefix);
  const outer = uniqueName('kst');
  const inner = uniqueName('ksp');
  ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
  ip('link', 'set', outer, 'netns', srv.name);
  ip('link', 'set', inner, 'netns', ns.name);
  ip('-n', srv.name, 'link', 'set', outer, 'master', 'ksbr0');
  ip('-n', srv.name, 'link', 'set', outer, 'up');
  ip('-n', ns.name, 'link', 'set', inner, 'address', mac);
  ip('-n', ns.name, 'link', 'set', inner, 'up');
  const hook = join(dir, 'udhcpc-hook.sh');
  writeFileSync(hook, '#!/bin/sh\n[ "$1" = bound ] || exit 0\nip addr add "$ip/$mask" dev "$interface"\necho "$ip" > "$OUT"\n');
  chmodSync(hook, 0o755);
  const out = join(dir, `${prefix}.ip`);
  const r = await nsRun(ns, 'env', [`OUT=${out}`, 'busybox', 'udhcpc', '-i', inner, '-f', '-q', '-n', '-t', '10', '-T', '1', '-s', hook], 60_000);
  assert.ok(existsSync(out), `udhcpc in ${prefix} got no lease: ${r.stderr}`);
  const address = readFileSync(out, 'utf8').trim();
  return {
    ns,
    ip: address,
    async curl(path, args = []) {
      const c = await nsRun(ns, 'curl', ['-s', '-o', '-', '-w', '\n%{http_code}', ...args, `http://${SERVER}:8080${path}`]);
      const i = c.stdout.lastIndexOf('\n');
      return { status: Number(c.stdout.slice(i + 1)), body: c.stdout.slice(0, i) };
    },
    async tftp(file) {
      const local = join(dir, `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
      const t = await nsRun(ns, 'tftp', ['-m', 'binary', SERVER, '-c', 'get', file, local], 30_000);
      return t.code === 0 && existsSync(local) ? readFileSync(local, 'utf8') : null;
    },
  };
}

const stages = async (name: string) => (await api<{ events: Array<{ stage: string; run: number; log: string | null }> }>('GET', `/api/v1/systems/${name}/events`)).body.events;
const metric = async (series: string) => {
  const text = (await nsRun(srv, 'curl', ['-s', `http://${SERVER}:8080/metrics`])).stdout;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

describe('trust model and caps with real clients', { skip }, () => {
  before(async () => {
    ensurePackages(['busybox', 'curl', 'tftp-hpa', 'iproute2']);
    dir = mkdtempSync(join(tmpdir(), 'ks-trust-sys-'));
    chmodSync(dir, 0o755);
    srv = createNetns('ks-trs');
    ip('-n', srv.name, 'link', 'add', 'ksbr0', 'type', 'bridge');
    ip('-n', srv.name, 'addr', 'add', `${SERVER}/24`, 'dev', 'ksbr0');
    ip('-n', srv.name, 'link', 'set', 'ksbr0', 'up');
    mkdirSync(join(dir, 'isos'));
    const config = join(dir, 'kickstand.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        data_dir: join(dir, 'var'),
        profiles_dir: join(ROOT, 'profiles'),
        isos_dir: join(dir, 'isos'),
        templates_dir: join(ROOT, 'templates'),
        public_url: `http://${SERVER}:8080`,
        log_level: 'debug',
        http: { host: SERVER, port: 8080 },
        tftp: { enabled: true, host: '0.0.0.0', port: 69 },
        dhcp: { mode: 'full', interface: 'ksbr0', server_ip: SERVER, subnet: { network: `${NET}.0`, mask: '255.255.255.0', router: SERVER, pool_start: `${NET}.100`, pool_end: `${NET}.199` } },
        auth: { admin_token: ADMIN },
        lifecycle: CAPS,
      }),
    );
    logFile = join(dir, 'kickstand.log');
    const out = openSync(logFile, 'w');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KICKSTAND_')));
    server = srv.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), 'serve', '--config', config], { cwd: ROOT, env, stdio: ['ignore', out, out] });
    closeSync(out);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (/HTTP listening/.test(text) && /TFTP listening/.test(text) && /DHCP \(full\) listening/.test(text)) break;
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`kickstand serve did not start:\n${text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    guest = await peer('ks-trg', GUEST_MAC);
    attacker = await peer('ks-tra', ATTACKER_MAC);
    guestNs = guest.ns;
    attackerNs = attacker.ns;
  });

  after(async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(server.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    guestNs?.cleanup();
    attackerNs?.cleanup();
    srv?.cleanup();
    if (dir && !process.env.KICKSTAND_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  test('a spoofed MAC from another leased address gets no token and no kickstart; the guest installs from its own', async () => {
    assert.notEqual(guest.ip, attacker.ip);
    const created = await api<{ urls: { kickstart: string } }>('POST', '/api/v1/systems', { name: 'ng', macs: [GUEST_MAC], hostname: 'ng', profile: 'centos44-hvm', build: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.urls.kickstart.split('/ks/')[1]!;
    const dashed = GUEST_MAC.replace(/:/g, '-');

    const header = await attacker.curl('/ks', ['-H', `X-RHN-Provisioning-MAC-0: eth0 ${GUEST_MAC}`]);
    assert.equal(header.status, 403, header.body);
    assert.equal((await attacker.curl(`/ks?mac=${dashed}`)).status, 403);
    const ipxe = await attacker.curl(`/ipxe/${dashed}`);
    assert.equal(ipxe.status, 200);
    assert.ok(!ipxe.body.includes(token), 'no token in the iPXE script');
    assert.match(ipxe.body, /sanboot|exit/);
    const menu = await attacker.tftp(`pxelinux.cfg/01-${dashed}`);
    assert.ok(menu !== null, 'TFTP still answers (never nothing)');
    assert.ok(!menu.includes(token), 'no token in the pxelinux menu');
    assert.match(menu, /LOCALBOOT/);
    // Even with the token (leaked), a report from the attacker's address is refused.
    assert.equal((await attacker.curl(`/events/${token}/built`, ['-X', 'POST', '--data-binary', 'done'])).status, 403);
    const before = (await api<{ state: string; stage: string | null }>('GET', '/api/v1/systems/ng')).body;
    assert.deepEqual([before.state, before.stage], ['build', null]);
    assert.deepEqual((await stages('ng')).map((e) => e.stage), ['armed']);
    assert.ok((await metric('kickstand_trust_refusals_total{reason="not_its_address"}')) >= 4);

    // The guest, from the address kickstand leased it: menu with its token, kickstart, steps, built.
    const own = await guest.tftp(`pxelinux.cfg/01-${dashed}`);
    assert.ok(own?.includes(`/ks/${token}`), own ?? 'no menu');
    const ks = await guest.curl(`/ks/${token}`);
    assert.equal(ks.status, 200);
    assert.match(ks.body, /^install$/m);
    assert.equal((await attacker.curl(`/ks/${token}`)).status, 403, 'the run is bound to the guest now');
    for (const stage of ['partitioned', 'formatted', 'built']) assert.equal((await guest.curl(`/events/${token}/${stage}`)).status, 200, stage);
    assert.equal((await attacker.curl(`/events/${token}/failed`, ['-X', 'POST', '--data-binary', 'x'])).status, 403);
    const after = (await api<{ state: string }>('GET', '/api/v1/systems/ng')).body;
    assert.equal(after.state, 'built');
    assert.deepEqual((await stages('ng')).map((e) => e.stage), ['armed', 'pxe', 'kickstart', 'partitioned', 'formatted', 'built']);
  });

  test('floods of unknown MACs over HTTP and TFTP record discovered systems only up to the cap; every one is answered', async () => {
    const script = [
      'ok=0',
      'for i in $(seq 1 60); do m=$(printf "52-54-00-aa-%02x-%02x" $((i / 256)) $((i % 256)));',
      `  curl -s http://${SERVER}:8080/ipxe/$m | grep -q sanboot && ok=$((ok + 1)); done`,
      'for i in $(seq 61 100); do m=$(printf "52-54-00-aa-%02x-%02x" $((i / 256)) $((i % 256)));',
      `  tftp -m binary ${SERVER} -c get pxelinux.cfg/01-$m /tmp/ks-flood-$$ && grep -q LOCALBOOT /tmp/ks-flood-$$ && ok=$((ok + 1)); done`,
      'rm -f /tmp/ks-flood-$$; echo $ok',
    ].join('\n');
    const r = await nsRun(attackerNs, 'sh', ['-c', script], 300_000);
    assert.equal(r.stdout.trim(), '100', `every unknown MAC got the local-boot answer: ${r.stderr}`);
    const systems = (await api<{ systems: Array<{ state: string }> }>('GET', '/api/v1/systems')).body.systems;
    assert.equal(systems.filter((s) => s.state === 'discovered').length, CAPS.discovered_per_window);
    assert.equal(await metric('kickstand_limit_hits_total{limit="discovered_per_window"}'), 100 - CAPS.discovered_per_window);
    assert.match(readFileSync(logFile, 'utf8'), /limit reached: 20 new discovered systems/);
  });

  test('floods of step reports and late logs stop at their caps; built still ends the run', async () => {
    const armed = await api<{ urls: { kickstart: string } }>('POST', '/api/v1/systems/ng/rebuild');
    const token = armed.body.urls.kickstart.split('/ks/')[1]!;
    assert.equal((await guest.curl(`/ks/${token}`)).status, 200);
    const flood = await nsRun(
      guestNs,
      'sh',
      ['-c', `n429=0; for i in $(seq 1 100); do s=partitioned; [ $((i % 2)) = 0 ] && s=formatted; c=$(curl -s -o /dev/null -w '%{http_code}' http://${SERVER}:8080/events/${token}/$s); [ "$c" = 429 ] && n429=$((n429 + 1)); done; echo $n429`],
      300_000,
    );
    const run2 = async () => (await stages('ng')).filter((e) => e.run === 2);
    assert.equal((await run2()).length, CAPS.max_events_per_run);
    assert.equal(Number(flood.stdout.trim()), 100 - (CAPS.max_events_per_run - 2), 'armed and kickstart took two of the run\'s events');
    assert.equal((await guest.curl(`/events/${token}/built`)).status, 200, 'built ends the run even at the cap');
    assert.equal((await guest.curl(`/events/${token}/booted`)).status, 429, 'the run is full: no late report either');
    assert.equal(await metric('kickstand_limit_hits_total{limit="events_per_run"}'), 100 - (CAPS.max_events_per_run - 2) + 1);

    // Run 3: an installer log over max_log_bytes is a clean 413 (curl reads it, no reset); then
    // late failed reports with 60 KiB logs on the retired token, bounded in count and in bytes kept.
    const token3 = (await api<{ urls: { kickstart: string } }>('POST', '/api/v1/systems/ng/rebuild')).body.urls.kickstart.split('/ks/')[1]!;
    assert.equal((await guest.curl(`/scripts/${token3}/rescue.sh`)).status, 200);
    writeFileSync(join(dir, 'big-log.txt'), 'y'.repeat(100 * 1024));
    const big = await guest.curl(`/events/${token3}/failed`, ['-X', 'POST', '--data-binary', `@${join(dir, 'big-log.txt')}`]);
    assert.equal(big.status, 413, big.body);
    assert.equal(JSON.parse(big.body).error.code, 'payload_too_large');
    assert.equal((await api<{ state: string }>('GET', '/api/v1/systems/ng')).body.state, 'installing');
    assert.equal((await guest.curl(`/events/${token3}/built`)).status, 200);
    writeFileSync(join(dir, 'log.txt'), 'x'.repeat(60 * 1024));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await guest.curl(`/events/${token3}/failed`, ['-X', 'POST', '--data-binary', `@${join(dir, 'log.txt')}`])).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429, 429, 429], 'built plus four late reports fill the run\'s five');
    const kept = (await stages('ng')).reduce((n, e) => n + (e.log?.length ?? 0), 0);
    assert.equal(kept, 3 * 60 * 1024, 'the newest logs that fit in max_log_bytes_per_system are kept');
    assert.equal((await api<{ state: string }>('GET', '/api/v1/systems/ng')).body.state, 'built');
    assert.equal(await metric('kickstand_limit_hits_total{limit="final_reports_per_run"}'), 4);
    assert.equal(await metric('kickstand_limit_hits_total{limit="log_bytes_per_system"}'), 1);
  });
});
