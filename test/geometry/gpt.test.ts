import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT_TYPES, layoutGptDisk } from '../../server/geometry/gpt.ts';
import { layoutDisk, MIB_SECTORS } from '../../server/geometry/layout.ts';
import { sfdiskScript } from '../../server/geometry/sfdisk.ts';
import { ProfileError } from '../../server/errors.ts';

describe('GPT layout', () => {
  const d = layoutGptDisk(1024, [{ kind: 'efi', sizeMib: 64 }, { kind: 'swap', sizeMib: 128 }, { kind: 'linux' }], 'disks.sda');

  test('an ESP first at sector 2048, then MiB-aligned partitions, the rest stopping a MiB short of the end', () => {
    assert.equal(d.label, 'gpt');
    assert.deepEqual(
      d.partitions.map((p) => [p.number, p.kind, p.start, p.sectors]),
      [
        [1, 'efi', 2048, 64 * MIB_SECTORS],
        [2, 'swap', 65 * MIB_SECTORS, 128 * MIB_SECTORS],
        [3, 'linux', 193 * MIB_SECTORS, (1023 - 193) * MIB_SECTORS],
      ],
    );
    // The backup GPT (header in the last sector, 32 sectors of entries before it) stays clear.
    assert.ok(d.partitions[2]!.end < d.sectors - 33);
  });

  test('types are the GPT GUIDs, and nothing is marked bootable', () => {
    assert.deepEqual(d.partitions.map((p) => p.type), [GPT_TYPES.efi, GPT_TYPES.swap, GPT_TYPES.linux]);
    assert.equal(GPT_TYPES.efi, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
    assert.ok(d.partitions.every((p) => !p.bootable));
  });

  test('the sfdisk script says label: gpt', () => {
    assert.equal(
      sfdiskScript(d),
      `label: gpt\nunit: sectors\n\nstart=2048, size=131072, type=${GPT_TYPES.efi}\nstart=133120, size=262144, type=${GPT_TYPES.swap}\nstart=395264, size=1699840, type=${GPT_TYPES.linux}\n`,
    );
  });

  test('sfdisk writes exactly this table into an image file (when sfdisk is installed)', (t) => {
    if (spawnSync('sfdisk', ['--version']).status !== 0) return t.skip('no sfdisk on this machine');
    const dir = mkdtempSync(join(tmpdir(), 'ks-gpt-'));
    try {
      const img = join(dir, 'disk.img');
      execFileSync('truncate', ['-s', `${1024 * 1048576}`, img]);
      execFileSync('sfdisk', ['-q', img], { input: sfdiskScript(d) });
      const dump = JSON.parse(execFileSync('sfdisk', ['-J', img], { encoding: 'utf8' })) as { partitiontable: { label: string; partitions: Array<{ start: number; size: number; type: string }> } };
      assert.equal(dump.partitiontable.label, 'gpt');
      assert.deepEqual(dump.partitiontable.partitions.map((p) => [p.start, p.size, p.type]), d.partitions.map((p) => [p.start, p.sectors, p.type]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refusals name the disk: too many, too big, a size-less partition before the last', () => {
    assert.throws(() => layoutGptDisk(100, [{ kind: 'linux', sizeMib: 99 }], 'disks.sda'), (e: unknown) => e instanceof ProfileError && /^disks\.sda: partition 1 does not fit/.test(e.message));
    assert.throws(() => layoutGptDisk(100, [{ kind: 'linux' }, { kind: 'swap', sizeMib: 1 }]), /only the last partition/);
    assert.throws(() => layoutGptDisk(4096, Array.from({ length: 17 }, () => ({ kind: 'linux' as const, sizeMib: 1 }))), /1 to 16/);
  });

  test('an MBR disk refuses a BIOS boot partition and takes an ESP as type ef', () => {
    assert.throws(() => layoutDisk(100, [{ kind: 'biosboot', sizeMib: 1 }, { kind: 'linux' }], '1MiB', 'disks.hda'), /disks\.hda: partition 1: a BIOS boot partition needs a GPT disk/);
    assert.equal(layoutDisk(100, [{ kind: 'efi', sizeMib: 50 }, { kind: 'linux' }], '1MiB').partitions[0]!.type, 'ef');
  });
});
