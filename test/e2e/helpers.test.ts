// The e2e run's pure helpers, without QEMU or root: the draft script's quoting, the
// kernel module load order, the .treeinfo the test ISO carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadOrder } from './build/modules.ts';
import { treeInfo, TREE_PATHS } from './build/install-tree.ts';
import { renderDraft, shellQuote } from './render-draft.ts';

test('shellQuote makes a value carrying $(…), backticks, quotes and newlines one inert word', () => {
  const evil = `$(touch /tmp/pwned) \`id\` 'q' "d"\nnext`;
  const r = spawnSync('sh', ['-c', `v=${shellQuote(evil)}; printf %s "$v"`], { encoding: 'utf8' });
  assert.equal(r.stdout, evil);
});

test('renderDraft fills every placeholder, quoted, and the result parses with sh -n', () => {
  const template = "#!/bin/sh\n# {{comment}} stays\nA='{{a}}'\nB='{{b}}'\necho \"$A$B\"\n";
  const out = renderDraft({ a: "it's", b: 42 }, template);
  assert.match(out, /^A='it'\\''s'$/m);
  assert.match(out, /^B='42'$/m);
  assert.equal(spawnSync('sh', ['-n', '-c', out]).status, 0);
});

test('renderDraft refuses a missing value, an unused value and a placeholder outside quotes', () => {
  assert.throws(() => renderDraft({}, "A='{{a}}'\n"), /no value for \{\{a\}\}/);
  assert.throws(() => renderDraft({ a: 1, b: 2 }, "A='{{a}}'\n"), /unused values b/);
  assert.throws(() => renderDraft({ a: 1 }, 'A={{a}}\n'), /outside single quotes/);
});

test('the real draft install script renders with the e2e values and parses with sh -n', () => {
  const values = Object.fromEntries(
    ['events_url', 'stock_url', 'booted_url', 'kernel_version', 'kernel_args', 'root_scsi', 'root_label', 'root_fstype',
      'root_start', 'root_sectors', 'root_blocks', 'swap_scsi', 'swap_label', 'swap_start', 'swap_sectors'].map((k) => [k, `v-${k}`]),
  );
  const out = renderDraft(values);
  assert.equal(spawnSync('sh', ['-n', '-c', out]).status, 0);
});

test('loadOrder puts every dependency before its user and refuses an unknown module', () => {
  const deps = new Map<string, string[]>([
    ['kernel/fs/ext4/ext4.ko', ['kernel/lib/crc16.ko', 'kernel/fs/mbcache.ko', 'kernel/fs/jbd2/jbd2.ko']],
    ['kernel/fs/jbd2/jbd2.ko', []],
    ['kernel/fs/mbcache.ko', []],
    ['kernel/lib/crc16.ko', []],
    ['kernel/drivers/scsi/sd_mod.ko', ['kernel/drivers/scsi/scsi_mod.ko', 'kernel/lib/crc-t10dif.ko']],
    ['kernel/drivers/scsi/scsi_mod.ko', ['kernel/drivers/scsi/scsi_common.ko']],
    ['kernel/drivers/scsi/scsi_common.ko', []],
    ['kernel/lib/crc-t10dif.ko', []],
  ]);
  const order = loadOrder(deps, ['sd_mod', 'ext4', 'crc_t10dif']);
  for (const [mod, needs] of deps) {
    if (!order.includes(mod)) continue;
    for (const d of needs) assert.ok(order.indexOf(d) < order.indexOf(mod), `${d} before ${mod}`);
  }
  assert.equal(new Set(order).size, order.length, 'each module once');
  assert.throws(() => loadOrder(deps, ['e1000']), /"e1000" not found/);
});

test('the test ISO .treeinfo names the PXE kernel and initrd for x86_64 in both layouts', () => {
  const text = treeInfo();
  assert.match(text, /^\[images-x86_64\]\nkernel = images\/pxeboot\/vmlinuz\ninitrd = images\/pxeboot\/initrd.img$/m);
  assert.match(text, /^\[general\][\s\S]*^family = kickstand-e2e$/m);
  assert.match(text, /^\[release\][\s\S]*^version = 1$/m);
  assert.equal(TREE_PATHS.kernel, 'images/pxeboot/vmlinuz');
});
