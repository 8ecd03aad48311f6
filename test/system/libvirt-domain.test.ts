// The libvirt domain artifact against the real client (issue 15: "the Xen/libvirt side gets the
// firmware setting"): `kickstand serve` in a namespace renders the domains of a BIOS guest (the
// notes' NGTest-hvm), a UEFI guest and a Secure Boot guest through its HTTP API; virt-xml-validate
// accepts each; a private libvirtd (test/system/lib/libvirtd.ts) defines each as rendered. Then
// the firmware libvirt chose: libvirt 9.0 (Debian 12) picks it when a domain starts, so each
// domain is started paused (QEMU runs no guest code) as a TCG domain, its live XML read and the
// domain destroyed: OVMF's code and a per-domain NVRAM made from the template for UEFI, the Secure
// Boot build with Microsoft's keys and SMM for Secure Boot, neither for BIOS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, isRoot } from './lib/apt.ts';
import { LIBVIRT_PACKAGES, startLibvirtd, type Libvirtd } from './lib/libvirtd.ts';
import { createNetns, ip, type Netns } from './lib/netns.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const ADMIN = 'libvirt-domain-test-admin-0123456789';
const BRIDGE = 'xenbr0';
/** The VNC password of the BIOS guest: markup characters the schema lets through, escaped in passwd. */
const VNC_PASSWORD = 'a<b&c>d';
const SERVE_START_TIMEOUT_MS = 180_000;
const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root (namespaces, apt, libvirtd)';

/** One guest: its display name, slug, profile, and the firmware libvirt should give it. */
interface Guest {
  name: string;
  slug: string;
  profile: string;
  mac: string;
  disks: string[];
  firmware: 'bios' | 'uefi' | 'secure';
}
const GUESTS: Guest[] = [
  { name: 'NGTest-hvm', slug: 'ngtest-hvm', profile: 'centos44-hvm', mac: '00:16:3e:84:b5:99', disks: ['hda', 'hdb'], firmware: 'bios' },
  { name: 'Uefi-Guest', slug: 'uefi-guest', profile: 'uefi-kvm', mac: '52:54:00:4b:53:01', disks: ['vda', 'vdb'], firmware: 'uefi' },
  { name: 'Secure-Guest', slug: 'secure-guest', profile: 'secure-kvm', mac: '52:54:00:4b:53:02', disks: ['sda'], firmware: 'secure' },
];

let dir = '';
let ns: Netns | undefined;
let server: ChildProcess | undefined;
let libvirtd: Libvirtd | undefined;
const defined = new Set<string>();
const xml = new Map<string, string>();

/** Runs a command in the namespace (curl); never throws. */
function nsRun(cmd: string, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns!.name, cmd, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Calls kickstand's API in the namespace with the admin token; returns status and body text. */
function api(method: string, path: string, body?: unknown): { status: number; text: string } {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '-H', `Authorization: Bearer ${ADMIN}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  const r = nsRun('curl', [...args, `http://127.0.0.1:8080${path}`]);
  const i = r.out.lastIndexOf('\n');
  return { status: Number(r.out.slice(i + 1)), text: r.out.slice(0, i) };
}

/** Runs virsh against the private libvirtd and asserts it succeeded; returns stdout. */
function virsh(args: string[]): string {
  const r = libvirtd!.virsh(args);
  assert.equal(r.code, 0, `virsh ${args.join(' ')}: ${r.err}`);
  return r.out;
}

/** Returns the domain XML as TCG (type qemu): what a machine without KVM (CI) runs, and the only accelerator QEMU's SMM is sure to work under. */
const tcg = (text: string) => text.replace(/^<domain type='kvm'>/m, "<domain type='qemu'>");

describe('libvirt domains rendered by kickstand, defined by a real libvirtd', { skip }, () => {
  before(async () => {
    ensurePackages([...LIBVIRT_PACKAGES, 'ovmf', 'qemu-system-x86', 'libxml2-utils', 'curl']);
    dir = mkdtempSync(join(tmpdir(), 'ks-libvirt-dom-'));
    // The example profiles (the notes' guest) and the test profiles' UEFI and Secure Boot guests.
    const profiles = join(dir, 'profiles');
    cpSync(join(ROOT, 'profiles'), profiles, { recursive: true });
    for (const p of ['uefi-kvm', 'secure-kvm']) cpSync(join(ROOT, 'test/render/profiles', `${p}.yaml`), join(profiles, `${p}.yaml`));
    mkdirSync(join(dir, 'isos'));
    mkdirSync(join(dir, 'images'));
    for (const g of GUESTS) for (const d of g.disks) writeFileSync(join(dir, 'images', `${g.slug}-${d}.img`), '');
    writeFileSync(join(dir, 'cd.iso'), '');
    const config = join(dir, 'kickstand.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        data_dir: join(dir, 'var'), profiles_dir: profiles, isos_dir: join(dir, 'isos'), templates_dir: join(ROOT, 'templates'),
        public_url: 'http://127.0.0.1:8080', http: { host: '127.0.0.1', port: 8080 }, tftp: { enabled: false }, auth: { admin_token: ADMIN },
      }),
    );
    ns = createNetns('ks-lvd');
    ip('-n', ns.name, 'link', 'add', BRIDGE, 'type', 'bridge');
    ip('-n', ns.name, 'link', 'set', BRIDGE, 'up');
    const logFile = join(dir, 'kickstand.log');
    const out = openSync(logFile, 'w');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KICKSTAND_')));
    server = ns.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/cli/main.ts'), 'serve', '--config', config], { cwd: ROOT, env, stdio: ['ignore', out, out] });
    closeSync(out);
    // Generous: under tsx on a loaded shared machine, start-up has taken 40 s.
    const deadline = Date.now() + SERVE_START_TIMEOUT_MS;
    while (!/HTTP listening/.test(existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`kickstand serve did not start:\n${readFileSync(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    libvirtd = await startLibvirtd(ns, join(dir, 'libvirt'));
  });

  after(async () => {
    for (const name of defined) {
      libvirtd?.virsh(['destroy', name]);
      libvirtd?.virsh(['undefine', '--nvram', name]);
    }
    await libvirtd?.stop();
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(server.pid, 'SIGTERM');
      await exited;
    }
    ns?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the API refuses hostile names and VNC passwords at save (400 naming the field)', () => {
    const bad = api('POST', '/api/v1/systems', { name: "Evil'<x/>", macs: ['52:54:00:4b:53:66'], profile: 'uefi-kvm' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /name/);
    const quote = api('POST', '/api/v1/systems', { name: 'evil2', macs: ['52:54:00:4b:53:67'], profile: 'uefi-kvm', overrides: { xen: { vnc: { password: "a'b" } } } });
    assert.equal(quote.status, 400, quote.text);
    assert.match(quote.text, /password/);
  });

  test('kickstand renders each guest\'s domain over HTTP, and virt-xml-validate accepts it', () => {
    for (const g of GUESTS) {
      const overrides = { xen: { disk_dir: join(dir, 'images'), ...(g.firmware === 'bios' ? { cdrom: join(dir, 'cd.iso'), vnc: { password: VNC_PASSWORD } } : {}), ...(g.firmware === 'secure' ? { cdrom: join(dir, 'cd.iso') } : {}) } };
      const add = api('POST', '/api/v1/systems', { name: g.name, macs: [g.mac], profile: g.profile, overrides });
      assert.equal(add.status, 201, add.text);
      const r = api('GET', `/api/v1/systems/${g.slug}/render/libvirt`);
      assert.equal(r.status, 200, r.text);
      const file = join(dir, `${g.slug}.xml`);
      writeFileSync(file, r.text);
      xml.set(g.slug, file);
      const v = spawnSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8' });
      assert.equal(v.status, 0, `virt-xml-validate ${g.slug}: ${v.stdout}${v.stderr}`);
    }
    // A profile without a xen block has no domain: a clear 404.
    assert.equal(api('POST', '/api/v1/systems', { name: 'plain-kvm', macs: ['52:54:00:4b:53:03'], profile: 'el9-kvm' }).status, 201);
    const none = api('GET', '/api/v1/systems/plain-kvm/render/libvirt');
    assert.equal(none.status, 404);
    assert.match(none.text, /has no xen block/);
  });

  test('virsh defines each domain as rendered: name, boot order, buses, MAC on the bridge, VNC password; <os firmware=efi> for UEFI only', () => {
    // virsh defines a kvm domain only where libvirt sees KVM; elsewhere (CI) the same XML as TCG.
    const kvm = libvirtd!.virsh(['domcapabilities', '--virttype', 'kvm']).code === 0;
    if (!kvm) process.stderr.write('libvirt-domain: no KVM here; defining the rendered XML as a TCG (qemu) domain\n');
    for (const g of GUESTS) {
      const file = xml.get(g.slug)!;
      if (!kvm) writeFileSync(file, tcg(readFileSync(file, 'utf8')));
      virsh(['define', file]);
      defined.add(g.name);
      const dump = virsh(['dumpxml', '--inactive', '--security-info', g.name]);
      assert.match(dump, new RegExp(`<name>${g.name}</name>`));
      // Not built yet: the install's order, the CD first on the Secure Boot guest's CD route (power.boot: cd).
      const first = g.firmware === 'secure' ? 'cdrom' : 'network';
      assert.match(dump, new RegExp(`<boot dev='${first}'/>\\s*<boot dev='hd'/>`), `${g.slug}: ${first} first while not built`);
      assert.match(dump, new RegExp(`<mac address='${g.mac}'/>\\s*<source bridge='${BRIDGE}'/>`));
      if (g.firmware === 'bios') {
        assert.match(dump, /^\s*<os>$/m);
        assert.match(dump, /machine='pc-i440fx-[^']+'/);
        assert.match(dump, /<target dev='hda' bus='ide'\/>/);
        assert.match(dump, /<target dev='hdc' bus='ide'\/>\s*<readonly\/>/);
        assert.match(dump, /passwd='a&lt;b&amp;c&gt;d'/, 'libvirt read the password with its markup characters');
      } else {
        assert.match(dump, /^\s*<os firmware='efi'>$/m);
        assert.match(dump, /machine='pc-q35-[^']+'/);
        assert.doesNotMatch(dump, /bus='ide'/);
      }
      if (g.firmware === 'secure') assert.match(dump, /<smm state='on'\/>/);
    }
  });

  test('the firmware libvirt gives each when it starts: OVMF and a fresh NVRAM for UEFI, the Secure Boot build with Microsoft keys for Secure Boot, none for BIOS', () => {
    for (const g of GUESTS) {
      virsh(['undefine', '--nvram', g.name]);
      const file = join(dir, `${g.slug}.tcg.xml`);
      writeFileSync(file, tcg(readFileSync(xml.get(g.slug)!, 'utf8')));
      virsh(['define', file]);
      virsh(['start', '--paused', g.name]);
      const live = virsh(['dumpxml', g.name]);
      virsh(['destroy', g.name]);
      const nvram = join(dir, 'libvirt', 'lib', 'qemu', 'nvram', `${g.name}_VARS.fd`);
      if (g.firmware === 'bios') {
        assert.doesNotMatch(live, /<loader|<nvram/, `${g.slug}: SeaBIOS, no loader or NVRAM\n${live}`);
        assert.ok(!existsSync(nvram), 'no NVRAM file for a BIOS domain');
        continue;
      }
      const [code, vars] = g.firmware === 'secure' ? ['OVMF_CODE_4M.ms.fd', 'OVMF_VARS_4M.ms.fd'] : ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd'];
      const loader = /<loader ([^>]*)>([^<]+)<\/loader>/.exec(live);
      assert.ok(loader, `${g.slug}: no loader in\n${live}`);
      assert.equal(loader[2], `/usr/share/OVMF/${code}`);
      assert.match(loader[1]!, /type='pflash'/);
      assert.equal(/secure='yes'/.test(loader[1]!), g.firmware === 'secure', `${g.slug}: loader ${loader[1]}`);
      assert.match(live, new RegExp(`<nvram template='/usr/share/OVMF/${vars.replace(/\./g, '\\.')}'>/var/lib/libvirt/qemu/nvram/${g.name}_VARS\\.fd</nvram>`));
      assert.ok(existsSync(nvram), `${g.slug}: libvirt made the NVRAM from the template`);
      assert.deepEqual(readFileSync(nvram), readFileSync(`/usr/share/OVMF/${vars}`), 'a fresh copy of the template');
    }
  });
});
