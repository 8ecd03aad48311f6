// The rendered prepare script run for real on image files in a temporary folder, checked with
// sfdisk -d, dumpe2fs at the partition offset ('img?offset=N'), blkid -p -O and debugfs: the ext3
// block count must equal the geometry module's figure.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';
import { applyOverrides } from '../../server/profiles/load.ts';
import { buildContext, type RenderContext } from '../../server/render/context.ts';
import { BASE, TOKEN, allProfiles, fixedSystem, renderer } from '../render/fixtures.ts';

const skip = skipUnlessRoot('needs root (apt-get)');
let dir: string;

before(() => {
  if (skip) return;
  ensurePackages(['fdisk', 'e2fsprogs', 'util-linux']);
  dir = mkdtempSync(join(tmpdir(), 'kickstand-prepare-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Returns the notes' profile resized and pointed at a folder, as a context for the fixed system. */
function notesContext(imageDir: string, hdaMib: number, hdbMib: number): RenderContext {
  const { profiles, distros } = allProfiles();
  const base = profiles.get('centos44-hvm')!;
  const profile = applyOverrides(base, { disks: { hda: { size_mib: hdaMib }, hdb: { size_mib: hdbMib } }, xen: { disk_dir: imageDir } }, 'test');
  return buildContext({ system: fixedSystem({ build: false, token: null }), profile, distro: distros.get(base.distro)!, urls: { base: BASE }, token: null });
}

/** Writes and runs the prepare script of ctx with args; returns status and output. */
async function prepare(ctx: RenderContext, args: string[]): Promise<{ status: number | null; out: string }> {
  const script = join(dir, `prepare-${ctx.disks[0]!.sizeMib}.sh`);
  writeFileSync(script, (await renderer()).render('prepare', ctx));
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Returns dumpe2fs -h fields of the file system at byte offset of image. */
function superblock(image: string, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of run('dumpe2fs', ['-h', `${image}?offset=${offset}`]).split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Returns blkid -p -O offset tags as a map. */
function probe(image: string, offset: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of run('blkid', ['-p', '-O', String(offset), image]).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Checks the images of ctx hold the layout and file systems the geometry module promised. */
function checkImages(ctx: RenderContext): void {
  const [hda, hdb] = ctx.disks;
  assert.equal(statSync(hda!.image).size, hda!.bytes);
  const table = run('sfdisk', ['-d', hda!.image]);
  const root = hda!.partitions[0]!;
  assert.match(table, new RegExp(`: start=\\s*${root.start}, size=\\s*${root.sectors}, type=83, bootable`));
  const sb = superblock(hda!.image, root.offset);
  assert.equal(Number(sb['Block count']), root.extBlocks, 'ext3 block count differs from the geometry module');
  assert.equal(Number(sb['Block size']), 4096);
  assert.equal(sb['Filesystem volume name'], 'ROOT');
  assert.equal(Number(sb['Inode size']), 128);
  assert.match(sb['Filesystem features']!, /has_journal/);
  const tags = probe(hda!.image, root.offset);
  assert.deepEqual([tags.TYPE, tags.LABEL], ['ext3', 'ROOT']);
  const swap = hdb!.partitions[0]!;
  assert.match(run('sfdisk', ['-d', hdb!.image]), new RegExp(`: start=\\s*${swap.start}, size=\\s*${swap.sectors}, type=82\\n`));
  const st = probe(hdb!.image, swap.offset);
  assert.deepEqual([st.TYPE, st.LABEL], ['swap', 'SWAP']);
}

describe('prepare script on image files', { skip }, () => {
  test('512 MiB + 64 MiB: CHS partitions, ext3 with the exact block count at sector 63, swap at its offset', async () => {
    const ctx = notesContext(join(dir, 'small'), 512, 64);
    const r = await prepare(ctx, []);
    assert.equal(r.status, 0, r.out);
    assert.equal(ctx.root.extBlocks, Math.floor((63 * 255 * 65 - 63) / 8));
    checkImages(ctx);
  });

  test('an existing image is refused without --force and left untouched; --force remakes it', async () => {
    const ctx = notesContext(join(dir, 'small'), 512, 64);
    const before = run('sfdisk', ['-d', ctx.disks[0]!.image]);
    const r = await prepare(ctx, []);
    assert.equal(r.status, 1);
    assert.match(r.out, /ngtest-hvm-hda\.img exists; pass --force to overwrite it/);
    assert.equal(run('sfdisk', ['-d', ctx.disks[0]!.image]), before);
    const f = await prepare(ctx, ['--force']);
    assert.equal(f.status, 0, f.out);
    checkImages(ctx);
  });

  test('--dry-run prints every command and creates nothing', async () => {
    const ctx = notesContext(join(dir, 'dry'), 512, 64);
    const r = await prepare(ctx, ['--dry-run', '--source', dir]);
    assert.equal(r.status, 0, r.out);
    assert.ok(!existsSync(join(dir, 'dry')), 'dry run created the image folder');
    for (const re of [/^\+ truncate -s 536870912 .*ngtest-hvm-hda\.img$/m, /^\+ sfdisk -q .*<<EOF\nlabel: dos\nunit: sectors\n\nstart=63, size=1044162, type=83, bootable\nEOF$/m, /^\+ mke2fs -q -F -t ext3 -b 4096 -I 128 -L ROOT -E offset=32256 -d \/var\/tmp\/kickstand-prepare\.DRYRUN .*hda\.img 130520$/m, /^\+ dd if=\/var\/tmp\/kickstand-swap\.DRYRUN .*seek=63 count=8 conv=notrunc/m]) {
      assert.match(r.out, re);
    }
  });

  test('--source copies a paravirtual root in with mke2fs -d and writes fstab, grub.conf (newest kernel first: finding 1) and securetty for hda', async () => {
    const src = join(dir, 'pv-root');
    for (const d of ['boot/grub', 'etc', 'bin']) mkdirSync(join(src, d), { recursive: true });
    writeFileSync(join(src, 'boot/vmlinuz-2.6.9-42.ELsmp'), 'kernel');
    writeFileSync(join(src, 'boot/initrd-2.6.9-42.ELsmp.img'), 'initrd');
    writeFileSync(join(src, 'boot/vmlinuz-2.6.9-42.0.10.ELsmp'), 'kernel');
    writeFileSync(join(src, 'boot/initrd-2.6.9-42.0.10.ELsmp.img'), 'initrd');
    writeFileSync(join(src, 'etc/fstab'), '/dev/sda1 / ext3 defaults 1 1\n');
    writeFileSync(join(src, 'etc/securetty'), 'console\n');
    writeFileSync(join(src, 'bin/hello'), 'hello\n');
    const ctx = notesContext(join(dir, 'pv'), 512, 64);
    const r = await prepare(ctx, ['--source', src]);
    assert.equal(r.status, 0, r.out);
    checkImages(ctx);
    const image = `${ctx.disks[0]!.image}?offset=${ctx.root.offset}`;
    const cat = (path: string): string => run('debugfs', ['-R', `cat ${path}`, image]);
    assert.equal(cat('/bin/hello'), 'hello\n');
    assert.match(cat('/etc/fstab'), /^LABEL=ROOT \/ ext3 defaults 1 1\nLABEL=SWAP swap swap defaults 0 0\n/);
    assert.equal(cat('/etc/securetty'), 'console\nttyS0\n');
    const grub = cat('/boot/grub/grub.conf');
    assert.match(grub, /\troot \(hd0,0\)\n\tkernel \/boot\/vmlinuz-2\.6\.9-42\.ELsmp ro root=LABEL=ROOT console=tty0 console=ttyS0,9600 selinux=0\n\tinitrd \/boot\/initrd-2\.6\.9-42\.ELsmp\.img\n/);
    assert.deepEqual(grub.split('\n').filter((l) => l.startsWith('title ')), ['title CentOS (2.6.9-42.0.10.ELsmp)', 'title CentOS (2.6.9-42.ELsmp)'], 'default 0 is the newer kernel');
    assert.match(run('debugfs', ['-R', 'stat /etc/grub.conf', image]), /Type: symlink[\s\S]*Fast link dest: "\.\.\/boot\/grub\/grub\.conf"/);
    assert.match(cat('/boot/grub/device.map'), /^\(hd0\) \/dev\/hda\n\(hd1\) \/dev\/hdb$/m);
    assert.match(run('debugfs', ['-R', 'stat /boot/grub/menu.lst', image]), /Type: symlink/);
  });

  test('the notes 10240 MiB + 1024 MiB disks (sparse): 1305 cylinders, 10482381 KiB = 2620595 blocks of 4 KiB', async () => {
    const ctx = notesContext(join(dir, 'notes'), 10240, 1024);
    assert.equal(ctx.root.kib, 10482381);
    const r = await prepare(ctx, []);
    assert.equal(r.status, 0, r.out);
    checkImages(ctx);
    assert.equal(Number(superblock(ctx.disks[0]!.image, 32256)['Block count']), 2620595);
    assert.ok(statSync(ctx.disks[0]!.image).blocks * 512 < 512 * 1024 * 1024, 'the 10 GiB image is not sparse');
  });

  test('finding 4: the rescue script labels an unlabelled ext3 file system and swap area (as an el4 kickstart leaves them) once, and a second run changes nothing', async () => {
    const text = (await renderer()).render('rescue', notesContext(join(dir, 'labels'), 512, 64));
    const cut = text.indexOf('\nSTEP=find-disk');
    const functions = text.slice(0, cut).replace(/\n# Everything printed from here on[\s\S]*?trap on_exit EXIT\n/, '\n');
    const ext = join(dir, 'unlabelled-ext3.img');
    const swap = join(dir, 'unlabelled-swap.img');
    run('truncate', ['-s', '64M', ext, swap]);
    run('mke2fs', ['-q', '-F', '-t', 'ext3', ext]);
    run('mkswap', [swap]);
    assert.equal(probe(ext, 0).LABEL, undefined);
    const script = join(dir, 'labels.sh');
    writeFileSync(script, `${functions}\nset -eu\nfor n in 1 2; do set_label "$1" ext ROOT; set_label "$2" swap SWAP; echo "run $n done"; done\n`);
    const r = spawnSync('sh', [script, ext, swap], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const [first, second] = r.stdout.split('run 1 done');
    assert.match(first!, /labelled .*unlabelled-ext3\.img ROOT[\s\S]*labelled .*unlabelled-swap\.img SWAP/);
    assert.doesNotMatch(second!, /labelled/, 'the second run relabelled');
    assert.deepEqual([probe(ext, 0).TYPE, probe(ext, 0).LABEL], ['ext3', 'ROOT']);
    assert.deepEqual([probe(swap, 0).TYPE, probe(swap, 0).LABEL], ['swap', 'SWAP']);
  });
});
