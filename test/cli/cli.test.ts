// The `kickstand` command as an operator types it: help, bad usage (exit 2, one line), and a
// system's life from `system add` to `rebuild` and its timeline, on a temporary data folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
// The TypeScript source through tsx, so the tests never run a stale build; test/build.test.ts runs the compiled one.
const CLI = ['--import', 'tsx', join(ROOT, 'server', 'cli', 'main.ts')];

function cli(dataDir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, KICKSTAND_DATA_DIR: dataDir, KICKSTAND_ISOS_DIR: join(dataDir, 'isos'), KICKSTAND_CONFIG: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('kickstand CLI: help, usage errors and a system from add to rebuild', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-cli-'));
  try {
    const help = cli(dir, '--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /usage: kickstand <command>/);
    assert.match(cli(dir, 'system', '--help').out, /kickstand system add NAME --mac MAC/);

    for (const [args, re] of [
      [['bogus'], /unknown command "bogus"/],
      [['system'], /system needs a command/],
      [['system', 'add', 'ng', '--colour', 'red'], /Unknown option '--colour'/],
      [['system', 'add', 'ng', '--mac', 'nonsense', '--profile', 'centos44-hvm'], /invalid MAC address "nonsense"/],
      [['render', 'kickstart'], /render needs --system NAME/],
      [['render', 'bogus', '--system', 'x'], /unknown artifact kind "bogus"/],
    ] as const) {
      const r = cli(dir, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, 'one line');
    }

    const add = cli(dir, 'system', 'add', 'ngtest-hvm', '--mac', '00-16-3E-84-B5-99', '--profile', 'centos44-hvm', '--hostname', 'ngtest');
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /added ngtest-hvm \(00:16:3e:84:b5:99\) profile centos44-hvm/);
    const dup = cli(dir, 'system', 'add', 'other', '--mac', '0016.3e84.b599', '--profile', 'centos44-hvm');
    assert.equal(dup.code, 1);
    assert.match(dup.err, /MAC address already belongs to another system/);

    assert.match(cli(dir, 'system', 'list').out, /ngtest-hvm\s+registered/);
    const rebuild = cli(dir, 'system', 'rebuild', 'ngtest-hvm');
    assert.equal(rebuild.code, 0, rebuild.err);
    assert.match(rebuild.out, /armed, run 1/);
    const ks = cli(dir, 'render', 'kickstart', '--system', 'ngtest-hvm', '--base', 'http://10.0.0.1:8080');
    assert.equal(ks.code, 0, ks.err);
    assert.match(ks.out, /^url --url http:\/\/10\.0\.0\.1:8080\/trees\/centos-4\.4-i386\/$/m);
    const events = cli(dir, 'system', 'events', 'ngtest-hvm');
    assert.match(events.out, /run 1 .* armed/);
    const show = JSON.parse(cli(dir, 'system', 'show', 'ngtest-hvm', '--json').out) as { state: string; token?: string };
    assert.equal(show.state, 'build');
    assert.equal(show.token, undefined, 'no token in CLI output');
    const profiles = cli(dir, 'profile', 'show', 'centos44-hvm');
    assert.match(profiles.out, /"root_password_hash": "\*\*\*\*\*\*\*\*"/);
    assert.equal(cli(dir, 'system', 'rm', 'ngtest-hvm').code, 0);
    assert.equal(cli(dir, 'system', 'show', 'ngtest-hvm').code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kickstand iso inspect and iso list say what was detected, and why not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-cli-iso-'));
  try {
    mkdirSync(join(dir, 'isos'));
    const iso = join(dir, 'isos', 'CentOS-4.4-i386-binDVD.iso');
    writeFileSync(iso, gunzipSync(readFileSync(join(ROOT, 'test', 'fixtures', 'isos', 'centos4.iso.gz'))));
    writeFileSync(join(dir, 'isos', 'broken.iso'), Buffer.alloc(64 * 1024));
    const ok = cli(dir, 'iso', 'inspect', iso);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /distro: +centos-4\.4-i386 \(family el4/);
    assert.match(ok.out, /kernel: +isolinux\/vmlinuz/);
    const bad = cli(dir, 'iso', 'inspect', join(dir, 'isos', 'broken.iso'));
    assert.equal(bad.code, 1);
    assert.match(bad.out, /error: +.*CD001/);
    const list = cli(dir, 'iso', 'list');
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /centos-4\.4-i386 +el4 +CentOS-4\.4-i386-binDVD\.iso/);
    assert.match(list.out, /\(skipped\) .*broken\.iso: .*CD001/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
