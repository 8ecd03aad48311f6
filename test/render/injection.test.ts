// Hostile values: each is refused by validation (profile schema, render context) or comes out of
// a quoting helper inert. "Inert" is shown by running the quoted word with bash and busybox sh in
// an empty folder and checking nothing was executed.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides } from '../../server/profiles/load.ts';
import { buildContext } from '../../server/render/context.ts';
import { ipxeWord, kernelWord, kickstartPackage, kickstartQuoted, kickstartWord, pythonString, shellQuote, xlString } from '../../server/render/helpers.ts';
import { BadRequestError, ProfileError, TemplateError } from '../../server/errors.ts';
import { BASE, TOKEN, allProfiles, fixedSystem } from './fixtures.ts';

const HOSTILE = ['$(touch pwned)', '`touch pwned`', "'; touch pwned; '", '"; touch pwned; "', '$((1+1))${HOME}', 'a\\', "it's"];
const WITH_NEWLINE = ['a\ntouch pwned', 'a\r\nb', 'nul\0byte'];
const shells = ['bash', ...(existsSync('/usr/bin/busybox') ? ['busybox sh'] : [])];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kickstand-inject-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('shell quoting renders hostile values inert', () => {
  for (const sh of shells) {
    test(`${sh}: printf of each quoted value prints it back and runs nothing`, () => {
      for (const v of HOSTILE) {
        const [cmd, ...pre] = sh.split(' ');
        const r = spawnSync(cmd!, [...pre, '-c', `x=${shellQuote(v)}; printf '%s' "$x"; printf '%s' ${shellQuote(v)} >/dev/null`], { cwd: dir, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, v);
        assert.deepEqual(readdirSync(dir), [], `${sh} executed something for ${JSON.stringify(v)}`);
      }
    });
  }
  test('newlines, carriage returns and NUL are refused rather than quoted', () => {
    for (const v of WITH_NEWLINE) assert.throws(() => shellQuote(v), TemplateError);
  });
});

describe('the other languages refuse what they cannot hold', () => {
  test('kickstart words refuse spaces, quotes, backslashes, "#" and newlines', () => {
    for (const v of ['a b', 'a"b', "a'b", 'a\\b', 'a#b', 'a\nb', '']) assert.throws(() => kickstartWord(v), TemplateError, JSON.stringify(v));
    assert.equal(kickstartWord('$1$salt$hash'), '$1$salt$hash');
  });
  test('quoted kickstart values refuse double quotes, backslashes and newlines but keep spaces', () => {
    for (const v of ['a"b', 'a\\b', 'a\nb']) assert.throws(() => kickstartQuoted(v), TemplateError);
    assert.equal(kickstartQuoted('console=ttyS0,9600 selinux=0'), '"console=ttyS0,9600 selinux=0"');
  });
  test('%packages lines refuse a leading "%" (a section header), "#" and newlines', () => {
    for (const v of ['%post', 'a#b', 'a\n%post', ' a']) assert.throws(() => kickstartPackage(v), TemplateError);
    assert.equal(kickstartPackage('@Base System'), '@Base System');
  });
  test('Python strings escape quotes and backslashes: python3 reads back the same value', () => {
    for (const v of HOSTILE) {
      const r = spawnSync('python3', ['-c', `import sys; sys.stdout.write(${pythonString(v)})`], { encoding: 'utf8' });
      assert.equal(r.stdout, v);
    }
    assert.throws(() => pythonString('a\nb'), TemplateError);
  });
  test('xl strings, kernel arguments and iPXE words refuse quotes, spaces and expansions', () => {
    for (const v of ["a'b", 'a"b', 'a\\b', 'a\nb']) assert.throws(() => xlString(v), TemplateError);
    for (const v of ['a b', 'a"b', 'a\tb', 'a\nb']) assert.throws(() => kernelWord(v), TemplateError);
    for (const v of ['${mac}', 'a b', 'a||b', 'a#b', 'a;b', 'a&b']) assert.throws(() => ipxeWord(v), TemplateError, JSON.stringify(v));
  });
});

describe('validation refuses hostile values before any template sees them', () => {
  const { profiles } = allProfiles();
  const notes = profiles.get('centos44-hvm')!;
  test('profile values: package names, password hashes, kernel arguments, labels, paths and bridges', () => {
    const bad: Array<Record<string, unknown>> = [
      { packages: ['kernel', '$(reboot)'] },
      { packages: ['kernel`reboot`'] },
      { packages: ['kernel\n%post'] },
      { root_password_hash: "$1$x$y'; reboot; '" },
      { root_password_hash: '$1$x$y\nreboot' },
      { kernel_args: ['a b'] },
      { kernel_args: ['$(reboot)'] },
      { disks: { hda: { partitions: [{ role: 'root', label: '$(x)' }] } } },
      { xen: { bridge: 'br0; reboot' } },
      { xen: { cdrom: '/iso/a b.iso' } },
      { timezone: 'UTC; reboot' },
    ];
    for (const o of bad) assert.throws(() => applyOverrides(notes, o, 'test'), ProfileError, JSON.stringify(o));
  });
  test('system values: host names, names, MACs, tokens and the base URL', () => {
    const { distros } = allProfiles();
    const distro = distros.get(notes.distro)!;
    const build = (system: ReturnType<typeof fixedSystem>, base = BASE, token: string | null = TOKEN) => buildContext({ system, profile: notes, distro, urls: { base }, token });
    for (const hostname of ['$(reboot)', '`reboot`', "a'b", 'a b', 'a\nb']) assert.throws(() => build(fixedSystem({ hostname })), BadRequestError, hostname);
    assert.throws(() => build(fixedSystem({ name: 'x;reboot' })), BadRequestError);
    assert.throws(() => build(fixedSystem({ macs: ['00:16:3e:84:b5:99 x'] })), BadRequestError);
    assert.throws(() => build(fixedSystem(), BASE, 'a b'), (e: unknown) => e instanceof BadRequestError && !e.message.includes('a b'));
    assert.throws(() => build(fixedSystem(), "http://x/'$(reboot)'"), BadRequestError);
    assert.ok(build(fixedSystem()).urls.kickstart.endsWith(`/ks/${TOKEN}`));
  });
});
