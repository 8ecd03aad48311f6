import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CYLINDER_BYTES, CYLINDER_SECTORS, MIB_SECTORS, layoutDisk, type Alignment, type PartitionRequest } from '../../server/geometry/layout.ts';
import { sfdiskScript } from '../../server/geometry/sfdisk.ts';
import { ProfileError } from '../../server/errors.ts';

describe('CHS layout: the notes worked example', () => {
  const hda = layoutDisk(10240, [{ kind: 'linux', bootable: true }], 'chs');

  test('10240 MiB has 1305 whole cylinders of 8225280 bytes', () => {
    assert.equal(CYLINDER_BYTES, 8225280);
    assert.equal(hda.cylinders, 1305);
  });

  test('one whole-disk partition starts at sector 63 (byte 32256) and ends on cylinder 1305', () => {
    const p = hda.partitions[0]!;
    assert.equal(p.start, 63);
    assert.equal(p.offset, 32256);
    assert.equal(p.end, 1305 * CYLINDER_SECTORS - 1);
  });

  test('its size in 1 KiB blocks is (63*255*1305 - 63) / 2 = 10482381, the notes mkfs.ext3 figure', () => {
    assert.equal(hda.partitions[0]!.kib, 10482381);
    assert.equal(hda.partitions[0]!.kib, (63 * 255 * 1305 - 63) / 2);
    assert.equal(hda.partitions[0]!.extBlocks, Math.floor(10482381 / 4));
  });

  test('the sfdisk script marks it bootable Linux', () => {
    assert.equal(sfdiskScript(hda), 'label: dos\nunit: sectors\n\nstart=63, size=20964762, type=83, bootable\n');
  });

  test('the 1024 MiB swap disk has 130 cylinders and a type 82 partition', () => {
    const hdb = layoutDisk(1024, [{ kind: 'swap' }], 'chs');
    assert.equal(hdb.cylinders, 130);
    assert.deepEqual([hdb.partitions[0]!.start, hdb.partitions[0]!.sectors, hdb.partitions[0]!.type], [63, 130 * 16065 - 63, '82']);
  });
});

describe('CHS layout with swap on the same disk', () => {
  test('a 1024 MiB swap partition rounds to 131 cylinders and root takes the rest on a cylinder boundary', () => {
    const d = layoutDisk(10240, [{ kind: 'swap', sizeMib: 1024 }, { kind: 'linux' }], 'chs');
    const [swap, root] = d.partitions;
    assert.equal(swap!.end, 131 * CYLINDER_SECTORS - 1);
    assert.equal(root!.start, 131 * CYLINDER_SECTORS);
    assert.equal(root!.end, 1305 * CYLINDER_SECTORS - 1);
    assert.equal(root!.kib, ((1305 - 131) * CYLINDER_SECTORS) / 2);
  });
});

describe('1MiB layout', () => {
  test('partitions start at 2048 and follow each other in whole MiB', () => {
    const d = layoutDisk(20480, [{ kind: 'linux', sizeMib: 1024, bootable: true }, { kind: 'swap', sizeMib: 2048 }, { kind: 'linux' }], '1MiB');
    assert.deepEqual(
      d.partitions.map((p) => [p.start, p.sectors]),
      [
        [2048, 1024 * 2048],
        [2048 + 1024 * 2048, 2048 * 2048],
        [2048 + 3072 * 2048, (20480 - 1 - 3072) * 2048],
      ],
    );
    assert.equal(d.partitions[2]!.end, d.sectors - 1);
    assert.equal(d.partitions[0]!.offset, 1048576);
  });
});

describe('layout refusals', () => {
  test('partitions larger than the disk are refused with ProfileError naming the disk', () => {
    assert.throws(() => layoutDisk(100, [{ kind: 'linux', sizeMib: 100 }], '1MiB', 'disks.hda'), (e: unknown) => e instanceof ProfileError && /^disks\.hda: partition 1 does not fit/.test(e.message));
    assert.throws(() => layoutDisk(12, [{ kind: 'linux', sizeMib: 8 }, { kind: 'linux' }], 'chs'), ProfileError);
  });
  test('a size-less partition before the last is refused', () => {
    assert.throws(() => layoutDisk(100, [{ kind: 'linux' }, { kind: 'swap', sizeMib: 10 }], '1MiB'), /only the last partition/);
  });
  test('five partitions are refused', () => {
    assert.throws(() => layoutDisk(100, Array.from({ length: 5 }, () => ({ kind: 'linux' as const, sizeMib: 1 })), '1MiB'), /1 to 4 primary/);
  });
});

/** Returns a seeded PRNG (mulberry32) so property failures replay. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('layout properties over 2000 seeded random disks', () => {
  const random = rng(20061205);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const cases: Array<{ size: number; reqs: PartitionRequest[]; alignment: Alignment }> = [];
  for (let i = 0; i < 2000; i++) {
    const size = int(8, 4 * 1024 * 1024);
    const n = int(1, 4);
    const reqs: PartitionRequest[] = Array.from({ length: n }, () => ({ kind: random() < 0.3 ? 'swap' : 'linux', sizeMib: int(1, Math.max(1, Math.floor(size / n))) }));
    if (random() < 0.5) delete reqs[n - 1]!.sizeMib;
    cases.push({ size, reqs, alignment: random() < 0.5 ? 'chs' : '1MiB' });
  }

  test('every fitting layout has ordered, non-overlapping partitions inside the disk, aligned as asked', () => {
    let laid = 0;
    for (const c of cases) {
      let d;
      try {
        d = layoutDisk(c.size, c.reqs, c.alignment);
      } catch (e) {
        assert.ok(e instanceof ProfileError, `unexpected ${String(e)}`);
        continue;
      }
      laid++;
      const where = JSON.stringify(c);
      let prevEnd = 0;
      for (const p of d.partitions) {
        assert.ok(p.start > prevEnd, `overlap or out of order: ${where}`);
        assert.ok(p.end >= p.start && p.end < d.sectors, `past the end: ${where}`);
        assert.equal(p.sectors, p.end - p.start + 1);
        assert.equal(p.offset, p.start * 512);
        if (c.alignment === 'chs') {
          assert.equal((p.end + 1) % CYLINDER_SECTORS, 0, `not on a cylinder: ${where}`);
          assert.ok(p.start === 63 || p.start % CYLINDER_SECTORS === 0, `bad start: ${where}`);
          assert.ok(p.end < d.cylinders * CYLINDER_SECTORS, `past the last whole cylinder: ${where}`);
        } else {
          assert.equal(p.start % MIB_SECTORS, 0, `not MiB aligned: ${where}`);
          assert.equal((p.end + 1) % MIB_SECTORS, 0, `not ending on a MiB: ${where}`);
        }
        prevEnd = p.end;
      }
      const last = d.partitions[d.partitions.length - 1]!;
      if (c.reqs[c.reqs.length - 1]!.sizeMib === undefined) {
        assert.equal(last.end, c.alignment === 'chs' ? d.cylinders * CYLINDER_SECTORS - 1 : d.sectors - 1, `rest does not reach the end: ${where}`);
      }
    }
    assert.ok(laid > 500, `only ${laid} of ${cases.length} cases fit; the generator is too tight`);
  });

  test('a fixed-size request gets exactly its size (1MiB) or its nearest whole number of cylinders (CHS)', () => {
    for (const c of cases) {
      let d;
      try {
        d = layoutDisk(c.size, c.reqs, c.alignment);
      } catch {
        continue;
      }
      d.partitions.forEach((p, i) => {
        const want = c.reqs[i]!.sizeMib;
        if (want === undefined) return;
        if (c.alignment === '1MiB') assert.equal(p.bytes, want * 1048576);
        else {
          const cyls = (p.end + 1) / CYLINDER_SECTORS - (p.start === 63 ? 0 : p.start / CYLINDER_SECTORS);
          assert.equal(cyls, Math.max(1, Math.round((want * 1048576) / CYLINDER_BYTES)));
        }
      });
    }
  });
});
