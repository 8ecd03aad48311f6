// Every rendered script parses (bash -n, and busybox sh -n for the /bin/sh ones), and the shared
// configuration functions are idempotent: a second run on the same root changes nothing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactsFor } from '../../server/render/artifacts.ts';
import { contextFor, goldenCases, renderer } from './fixtures.ts';

const SCRIPTS = ['rescue', 'install', 'prepare'] as const;
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kickstand-scripts-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('rendered scripts parse', async () => {
  const r = await renderer();
  for (const c of goldenCases()) {
    test(`${c.id}: bash -n${existsSync('/usr/bin/busybox') ? ' and busybox sh -n' : ''} accept every script`, () => {
      for (const kind of SCRIPTS.filter((k) => artifactsFor(c.ctx).includes(k))) {
        const text = r.render(kind, c.ctx);
        const file = join(dir, `${c.id}-${kind}.sh`);
        writeFileSync(file, text);
        const b = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
        assert.equal(b.status, 0, `${kind}: ${b.stderr}`);
        if (text.startsWith('#!/bin/sh') && existsSync('/usr/bin/busybox')) {
          const s = spawnSync('busybox', ['sh', '-n', file], { encoding: 'utf8' });
          assert.equal(s.status, 0, `${kind} (busybox sh): ${s.stderr}`);
        }
      }
    });
  }
});

describe('configuration functions shared by rescue, install and prepare', async () => {
  const r = await renderer();
  /** Returns the rescue script's function definitions (everything before its first step) plus calls on ROOT. */
  const functionsOf = (text: string): string => {
    const cut = text.indexOf('\nSTEP=find-disk');
    assert.ok(cut > 0, 'rescue script layout changed: no STEP=find-disk');
    // Drop the logging set-up (it redirects output through a FIFO) but keep the functions.
    return text.slice(0, cut).replace(/\n# Everything printed from here on[\s\S]*?trap on_exit EXIT\n/, '\n');
  };

  test('fstab, grub.conf, menu.lst, securetty, inittab and booted-url: written once, unchanged by a second run', () => {
    const text = r.render('rescue', contextFor('centos44-hvm'));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'boot/grub'), { recursive: true });
    mkdirSync(join(root, 'etc/rc.d'), { recursive: true });
    for (const f of ['vmlinuz-2.6.9-42.EL', 'initrd-2.6.9-42.EL.img', 'vmlinuz-2.6.9-42.ELsmp', 'initrd-2.6.9-42.ELsmp.img', 'vmlinuz-2.6.9-42.ELxenU']) writeFileSync(join(root, 'boot', f), '');
    writeFileSync(join(root, 'etc/securetty'), 'console\ntty1\n');
    writeFileSync(join(root, 'etc/inittab'), 'id:3:initdefault:\n');
    writeFileSync(join(root, 'etc/rc.d/rc.local'), '#!/bin/sh\ntouch /var/lock/subsys/local\n');
    const script = `${functionsOf(text)}\nset -eu\nfor n in 1 2; do write_fstab "$1"; write_grub_conf "$1"; allow_serial_root "$1"; write_booted_url "$1"; echo "run $n done"; done\n`;
    writeFileSync(join(dir, 'config.sh'), script);
    const run = spawnSync('bash', [join(dir, 'config.sh'), root], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const [first, second] = run.stdout.split('run 1 done');
    assert.match(first!, /wrote .*etc\/fstab/);
    assert.doesNotMatch(second!, /wrote/, 'the second run rewrote a file');
    const grub = readFileSync(join(root, 'boot/grub/grub.conf'), 'utf8');
    assert.equal(grub, [
      '# written by kickstand for ngtest-hvm', 'default 0', 'timeout 5', 'serial --unit=0 --speed=9600', 'terminal --timeout=5 serial console',
      'title CentOS (2.6.9-42.ELsmp)', '\troot (hd0,0)', '\tkernel /boot/vmlinuz-2.6.9-42.ELsmp ro root=LABEL=ROOT console=tty0 console=ttyS0,9600 selinux=0', '\tinitrd /boot/initrd-2.6.9-42.ELsmp.img',
      'title CentOS (2.6.9-42.EL)', '\troot (hd0,0)', '\tkernel /boot/vmlinuz-2.6.9-42.EL ro root=LABEL=ROOT console=tty0 console=ttyS0,9600 selinux=0', '\tinitrd /boot/initrd-2.6.9-42.EL.img', '',
    ].join('\n'));
    assert.equal(spawnSync('readlink', [join(root, 'boot/grub/menu.lst')], { encoding: 'utf8' }).stdout.trim(), 'grub.conf');
    assert.equal(spawnSync('readlink', [join(root, 'etc/grub.conf')], { encoding: 'utf8' }).stdout.trim(), '../boot/grub/grub.conf', 'finding 8: /etc/grub.conf');
    assert.equal(readFileSync(join(root, 'boot/grub/device.map'), 'utf8'), '# this device map was written by kickstand\n(hd0) /dev/hda\n(hd1) /dev/hdb\n', 'finding 8: device.map');
    assert.match(readFileSync(join(root, 'etc/fstab'), 'utf8'), /^LABEL=ROOT \/ ext3 defaults 1 1\nLABEL=SWAP swap swap defaults 0 0\n/);
    assert.equal(readFileSync(join(root, 'etc/securetty'), 'utf8'), 'console\ntty1\nttyS0\n');
    assert.equal(readFileSync(join(root, 'etc/inittab'), 'utf8'), 'id:3:initdefault:\nS0:2345:respawn:/sbin/agetty ttyS0 9600 vt100\n');
    assert.equal(readFileSync(join(root, 'etc/kickstand/booted-url'), 'utf8'), 'http://10.0.0.1:8080/events/tok3n-golden-0001/booted\n');
    const rc = readFileSync(join(root, 'etc/rc.d/rc.local'), 'utf8');
    assert.equal(rc.split('# kickstand: report the first boot once').length - 1, 1, 'the rc.local hook was added more than once');
    assert.ok(statSync(join(root, 'etc/rc.d/rc.local')).mode & 0o100);
  });

  test('finding 1: with 2.6.9-42.ELsmp and 2.6.9-42.0.10.ELsmp installed, default 0 is the newer kernel (bash and busybox sh)', () => {
    const text = r.render('rescue', contextFor('centos44-hvm'));
    for (const sh of ['bash', ...(existsSync('/usr/bin/busybox') ? ['busybox sh'] : [])]) {
      const root = join(dir, `kernels-${sh.replace(' ', '-')}`);
      mkdirSync(join(root, 'boot'), { recursive: true });
      const versions = ['2.6.9-42.ELsmp', '2.6.9-42.0.10.ELsmp', '2.6.9-42.0.3.ELsmp', '2.6.9-42.0.10.EL', '2.6.9-5.ELsmp', '2.6.18-8.el5'];
      for (const v of versions) writeFileSync(join(root, 'boot', `vmlinuz-${v}`), '');
      writeFileSync(join(dir, 'kernels.sh'), `${functionsOf(text)}\nset -eu\nwrite_grub_conf "$1"\n`);
      const [cmd, ...pre] = sh.split(' ');
      const run = spawnSync(cmd!, [...pre, join(dir, 'kernels.sh'), root], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr + run.stdout);
      const conf = readFileSync(join(root, 'boot/grub/grub.conf'), 'utf8');
      assert.doesNotMatch(conf, /hiddenmenu/, 'a serial console shows the menu, as anaconda writes it');
      const titles = conf.split('\n')
        .filter((l) => l.startsWith('title '))
        .map((l) => l.slice('title CentOS ('.length, -1));
      assert.deepEqual(titles, ['2.6.18-8.el5', '2.6.9-42.0.10.ELsmp', '2.6.9-42.0.10.EL', '2.6.9-42.0.3.ELsmp', '2.6.9-42.ELsmp', '2.6.9-5.ELsmp'], sh);
    }
  });

  test('finding 8: without a serial console the menu is hidden (hiddenmenu), as anaconda writes it', () => {
    const text = r.render('rescue', contextFor('split-boot'));
    const root = join(dir, 'hidden');
    mkdirSync(join(root, 'boot'), { recursive: true });
    writeFileSync(join(root, 'boot/vmlinuz-2.6.32-754.el6.x86_64'), '');
    writeFileSync(join(dir, 'hidden.sh'), `${functionsOf(text)}\nset -eu\nwrite_grub_conf "$1"\n`);
    const run = spawnSync('bash', [join(dir, 'hidden.sh'), root], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(readFileSync(join(root, 'boot/grub/grub.conf'), 'utf8'), /^timeout 5\nhiddenmenu\ntitle CentOS \(2\.6\.32-754\.el6\.x86_64\)$/m);
  });
});
