// `kickstand system power …` and `system rebuild … --reboot` as an operator types them, with a
// stand-in ipmitool on the PATH: the secret goes in from a file and never comes out, a failing
// BMC is exit 1 with its words and a power-failed event while the install stays armed, and a
// bulk rebuild reports each system.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StandinTools } from './standin-tool.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
// The TypeScript source through tsx: bin/kickstand.js runs the build, which may be stale or absent.
const CLI = ['--import', 'tsx', join(ROOT, 'server', 'cli', 'main.ts')];
const SECRET = 'cli-Secret-77';
const tools = new StandinTools();
const dir = mkdtempSync(join(tmpdir(), 'ks-cli-power-'));
after(() => {
  tools.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${tools.dir}:${process.env.PATH}`, KICKSTAND_DATA_DIR: dir, KICKSTAND_ISOS_DIR: join(dir, 'isos'), KICKSTAND_CONFIG: '', KICKSTAND_POWER__COMMAND_TIMEOUT_SECONDS: '5' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('kickstand system power: set from a secret file, show without it, status, rebuild --reboot, failures and bulk', () => {
  tools.tool('ipmitool', [{ match: ['status'], stdout: 'Chassis Power is on\n' }, { match: ['bootdev'], stdout: 'Set Boot Device to pxe\n' }, { match: ['cycle'], stdout: 'Chassis Power Control: Cycle\n' }]);
  for (const [n, mac] of [['node1', '00:16:3e:00:03:01'], ['node2', '00:16:3e:00:03:02']]) assert.equal(cli('system', 'add', n!, '--mac', mac!, '--profile', 'el9-kvm').code, 0);
  const secretFile = join(dir, 'bmc.pw');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });

  assert.match(cli('system', 'power', 'node1', 'set', '--driver', 'ipmi', '--address', '127.0.0.1', '--secret', SECRET).err, /Unknown option '--secret'/, 'no secret on the command line');
  const set = cli('system', 'power', 'node1', 'set', '--driver', 'ipmi', '--address', '127.0.0.1', '--port', '6230', '--user', 'admin', '--secret-file', secretFile);
  assert.equal(set.code, 0, set.err);
  assert.equal(set.out, 'node1: power ipmi 127.0.0.1, secret set\n');
  const show = cli('system', 'power', 'node1', 'show');
  assert.equal(show.code, 0);
  assert.equal(JSON.parse(show.out).settings.secretSet, true);
  assert.ok(!show.out.includes(SECRET));
  for (const f of readdirSync(dir).filter((f) => f.startsWith('kickstand.db'))) assert.ok(!readFileSync(join(dir, f), 'latin1').includes(SECRET), `${f} holds no plain secret`);

  const status = cli('system', 'power', 'node1', 'status');
  assert.deepEqual([status.code, status.out], [0, 'node1: power is on\n']);
  const call = tools.calls().at(-1)!;
  assert.equal(call.env.IPMI_PASSWORD, SECRET);
  assert.ok(!call.argv.includes(SECRET));

  const reb = cli('system', 'rebuild', 'node1', '--reboot');
  assert.equal(reb.code, 0, reb.err);
  assert.equal(reb.out, 'node1: armed, run 1; next boot set and power-cycled\n');
  assert.deepEqual(tools.calls().slice(-3).map((c) => c.argv.slice(-3).join(' ')), ['chassis bootdev pxe', 'chassis power status', 'chassis power cycle']);

  tools.tool('ipmitool', [{ match: [], stderr: 'Error: Unable to establish IPMI v2 / RMCP+ session\n', code: 1 }]);
  const bad = cli('system', 'rebuild', 'node1', '--reboot');
  assert.equal(bad.code, 1);
  assert.equal(bad.err, 'kickstand: ipmi 127.0.0.1:6230: Error: Unable to establish IPMI v2 / RMCP+ session\n');
  const shown = JSON.parse(cli('system', 'show', 'node1').out);
  assert.equal(shown.build, true, 'the install stays armed');
  const events = JSON.parse(cli('system', 'events', 'node1', '--json').out) as Array<{ stage: string; message: string }>;
  assert.deepEqual(events.map((e) => e.stage), ['armed', 'power-cycled', 'armed', 'power-failed']);
  assert.match(events.at(-1)!.message, /RMCP\+ session; the install stays armed/);

  const noDriver = cli('system', 'power', 'node2', 'cycle');
  assert.equal(noDriver.code, 1);
  assert.match(noDriver.err, /system "node2" has no power driver/);
  const bulk = cli('system', 'rebuild', 'node1', 'node2', '--reboot', '--parallel', '2');
  assert.equal(bulk.code, 1);
  assert.match(bulk.err, /^kickstand: node1: ipmi 127\.0\.0\.1:6230: .*RMCP\+ session \(the install stays armed\)$/m);
  assert.match(bulk.err, /^kickstand: node2: system "node2" has no power driver/m);
  assert.equal(cli('system', 'rebuild', 'node1', 'node2').code, 0, 'without --reboot a bulk rebuild only arms');
  assert.equal(cli('system', 'power', 'node1', 'explode').code, 2);
  assert.equal(cli('system', 'power', 'node1', 'clear').out, 'node1: power settings removed\n');
});
