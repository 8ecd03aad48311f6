// The xen driver with a stand-in xl (there is no Xen here; README says it is untested on a live
// dom0): rebuild --reboot writes the system's rendered xl config (the notes' guest: boot 'dca',
// the CentOS ISO as hdc) and runs destroy + create from it; once built the config says boot 'c'
// and `xl config-update` makes the running domain's next restart use it. Over ssh every argument
// is quoted for the remote shell.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Artifacts } from '../../server/boot/artifacts.ts';
import { Lifecycle } from '../../server/boot/lifecycle.ts';
import { PowerControl } from '../../server/boot/power-control.ts';
import { loadArtifactRenderer } from '../../server/boot/renderer.ts';
import { silentLogger } from '../../server/log.ts';
import { ProfileRegistry } from '../../server/profiles/registry.ts';
import { SecretBox } from '../../server/power/secret-box.ts';
import { shellQuote, sshArgs } from '../../server/power/remote.ts';
import { memoryStore } from '../fakes/memory-store.ts';
import { PROFILES_DIR } from '../http/harness.ts';
import { StandinTools } from './standin-tool.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

/** Returns the KEY = VALUE pairs of an xl config; throws on any line that is not xl syntax (strings, numbers, lists of strings). */
export function parseXlConfig(text: string): Record<string, string | number | string[]> {
  const out: Record<string, string | number | string[]> = {};
  const str = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/y;
  const body = text.replace(/#.*$/gm, '');
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/y;
  let pos = 0;
  const skip = () => {
    while (pos < body.length && /\s/.test(body[pos]!)) pos++;
  };
  const value = (): string | number | string[] => {
    skip();
    if (body[pos] === '[') {
      pos++;
      const items: string[] = [];
      for (;;) {
        skip();
        if (body[pos] === ']') return pos++, items;
        str.lastIndex = pos;
        const m = str.exec(body);
        if (!m) throw new Error(`xl config: expected a string in a list at ${JSON.stringify(body.slice(pos, pos + 30))}`);
        items.push(m[0].slice(1, -1));
        pos = str.lastIndex;
        skip();
        if (body[pos] === ',') pos++;
      }
    }
    str.lastIndex = pos;
    const s = str.exec(body);
    if (s) return (pos = str.lastIndex), s[0].slice(1, -1);
    const n = /^(0x[0-9a-f]+|\d+)/i.exec(body.slice(pos));
    if (!n) throw new Error(`xl config: bad value at ${JSON.stringify(body.slice(pos, pos + 30))}`);
    pos += n[0].length;
    return Number(n[0]);
  };
  for (;;) {
    skip();
    if (pos >= body.length) return out;
    re.lastIndex = pos;
    const k = re.exec(body);
    if (!k) throw new Error(`xl config: expected KEY = at ${JSON.stringify(body.slice(pos, pos + 30))}`);
    pos = re.lastIndex;
    out[k[1]!] = value();
  }
}

describe('xen driver (stand-in xl, the notes\' guest)', () => {
  const tools = new StandinTools();
  const dir = mkdtempSync(join(tmpdir(), 'ks-xen-'));
  let power: PowerControl;
  let lifecycle: Lifecycle;
  let artifacts: Artifacts;
  let xlPath = '';
  const xl = () => tools.calls().filter((c) => c.tool === 'xl');

  before(async () => {
    const log = silentLogger();
    lifecycle = new Lifecycle({ store: memoryStore(), log });
    const registry = new ProfileRegistry(PROFILES_DIR, log);
    artifacts = new Artifacts(registry, await loadArtifactRenderer(join(ROOT, 'templates'), log));
    power = new PowerControl({
      lifecycle, registry, log,
      secrets: new SecretBox(join(dir, 'key')),
      xlConfig: (s) => artifacts.render('xl', s, 'http://10.0.0.1:8080'),
      drivers: { xen: { command: (xlPath = tools.tool('xl', [{ match: ['domid'], stdout: '7\n' }])), ssh: tools.tool('ssh', [{ match: ['domid'], stdout: '7\n' }]) } },
    });
    await lifecycle.store.createSystem({ name: 'ngtest-hvm', macs: ['00:16:3e:84:b5:99'], profile: 'centos44-hvm' }, 1);
  });
  after(() => {
    tools.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('rebuild --reboot writes the armed config (boot dca, the CD as hdc) and destroys and creates the domain from it', async () => {
    tools.reset();
    await power.setSettings('ngtest-hvm', { driver: 'xen', config_dir: dir });
    const s = await power.rebuild('ngtest-hvm', { reboot: true, source: null, reason: 'test' });
    const file = join(dir, 'ngtest-hvm.cfg');
    assert.deepEqual(xl().map((c) => c.argv.join(' ')), ['domid ngtest-hvm', 'destroy ngtest-hvm', `create ${file}`]);
    const created = Object.values(xl()[2]!.files)[0]!;
    assert.equal(created, artifacts.render('xl', s, 'http://10.0.0.1:8080'), 'the file is the system\'s rendered xl config');
    const cfg = parseXlConfig(created);
    assert.equal(cfg.boot, 'dca');
    assert.equal(cfg.name, 'ngtest-hvm');
    assert.equal(cfg.memory, 512);
    assert.equal(cfg.vcpus, 2);
    assert.deepEqual(cfg.vif, ['type=ioemu,mac=00:16:3e:84:b5:99,bridge=xenbr0']);
    assert.deepEqual((cfg.disk as string[]).map((d) => /vdev=(hd[a-z])/.exec(d)?.[1]), ['hda', 'hdb', 'hdc']);
    assert.match((cfg.disk as string[])[2]!, /devtype=cdrom,target=\/root\/inst\/CentOS-4\.4-i386-binDVD\.iso$/);
    assert.equal(readFileSync(file, 'utf8'), created);
    const events = (await lifecycle.store.listEvents('ngtest-hvm')).map((e) => e.stage);
    assert.deepEqual(events, ['armed', 'power-cycled']);
  });

  test('once built, the config says boot c and xl config-update hands it to the running domain', async () => {
    tools.reset();
    const s = (await lifecycle.store.getSystem('ngtest-hvm'))!;
    await lifecycle.report(s.token!, 'built', { source: null });
    await power.installDone('ngtest-hvm');
    const file = join(dir, 'ngtest-hvm.cfg');
    assert.deepEqual(xl().map((c) => c.argv.join(' ')), ['domid ngtest-hvm', `config-update ngtest-hvm ${file}`]);
    const cfg = parseXlConfig(Object.values(xl()[1]!.files)[0]!);
    assert.equal(cfg.boot, 'c');
  });

  test('a domain xl does not know is off: power on creates it from the file', async () => {
    tools.reset();
    tools.tool('xl', [{ match: ['domid'], stderr: 'Invalid domain identifier "ngtest-hvm"\n', code: 1 }]);
    assert.equal(await power.act('ngtest-hvm', 'status', null), 'off');
    await power.act('ngtest-hvm', 'on', null);
    assert.deepEqual(xl().map((c) => c.argv[0]), ['domid', 'domid', 'create']);
    tools.tool('xl', [{ match: ['domid'], stderr: 'xencall: error: Could not obtain handle on privileged command interface\n', code: 1 }]);
    await assert.rejects(power.act('ngtest-hvm', 'status', null), /^PowerError: xen local domain ngtest-hvm: xencall: error: Could not obtain handle/);
    tools.tool('xl', [{ match: ['domid'], stdout: '7\n' }]);
  });

  test('over ssh: options, then --, the dom0 and one command string whose every word is quoted; the config goes on stdin', async () => {
    tools.reset();
    await power.setSettings('ngtest-hvm', { driver: 'xen', address: 'dom0.lab', user: 'root', port: 2222 });
    await power.act('ngtest-hvm', 'cycle', null);
    const ssh = tools.calls().filter((c) => c.tool === 'ssh');
    assert.deepEqual(ssh[0]!.argv, ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-p', '2222', '-l', 'root', '--', 'dom0.lab', `${shellQuote(xlPath)} 'domid' 'ngtest-hvm'`]);
    const write = ssh.find((c) => c.argv.at(-1)!.startsWith("'sh' '-c'"))!;
    assert.equal(write.argv.at(-1), `'sh' '-c' 'umask 077 && cat > "$1" && mv -f "$1" "$2"' 'kickstand-write-config' '/etc/xen/ngtest-hvm.cfg.kickstand-new' '/etc/xen/ngtest-hvm.cfg'`);
    assert.match(write.stdin, /^boot = 'c'$/m, 'the config as it stands (built: disk first) travels on stdin');
    assert.equal(ssh.at(-1)!.argv.at(-1), `${shellQuote(xlPath)} 'create' '/etc/xen/ngtest-hvm.cfg'`);
  });

  test('shellQuote survives a remote shell: hostile words come back unchanged', () => {
    const words = ["a b", "it's", '$(reboot)', '`id`', '"; rm -rf / #', '\\n', ''];
    const r = spawnSync('sh', ['-c', `printf '%s\\n' ${words.map(shellQuote).join(' ')}`], { encoding: 'utf8' });
    assert.deepEqual(r.stdout.split('\n').slice(0, -1), words);
    assert.deepEqual(sshArgs({ address: 'h', user: null, port: null }, ['x']).slice(-3), ['--', 'h', "'x'"]);
  });
});
