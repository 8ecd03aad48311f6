import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoaderFiles } from '../../server/boot/loader-files.ts';

async function all(files: LoaderFiles, name: string): Promise<string | null> {
  const src = await files.open(name);
  if (!src) return null;
  const out = (await src.read(0, src.size)).toString('utf8');
  await src.close?.();
  return out;
}

test('a small loader is kept in memory and checked against its file once per interval; a big one is read from disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-loaders-'));
  try {
    const small = join(dir, 'pxelinux.0');
    const big = join(dir, 'big.efi');
    writeFileSync(small, 'first');
    writeFileSync(big, 'x'.repeat(64));
    const clock = { now: 0 };
    const files = new LoaderFiles({ found: { 'pxelinux.0': small, 'big.efi': big }, missing: [] }, [], { maxMemoryBytes: 32, recheckMs: 1000, clock: () => clock.now });
    const a = await files.open('pxelinux.0');
    assert.equal(await files.open('pxelinux.0'), a, 'within the interval the same bytes, no disk access');
    assert.equal(typeof a!.id, 'string', 'an id, so TFTP transfers of it share one read-ahead');
    // Replaced on disk (a package upgrade): seen once the interval has passed, not before.
    unlinkSync(small);
    writeFileSync(small, 'second!');
    utimesSync(small, new Date(), new Date(Date.now() + 5000));
    assert.equal(await all(files, 'pxelinux.0'), 'first');
    clock.now = 1500;
    assert.equal(await all(files, 'pxelinux.0'), 'second!');
    const b = await files.open('pxelinux.0');
    clock.now = 3000;
    assert.equal(await files.open('pxelinux.0'), b, 'unchanged on disk: the kept copy goes on serving');
    // Removed: "not found" once the interval has passed.
    unlinkSync(small);
    clock.now = 4500;
    assert.equal(await files.open('pxelinux.0'), null);
    // Over the memory bound: a file source per open, always what the disk holds.
    assert.equal(await all(files, 'big.efi'), 'x'.repeat(64));
    assert.notEqual(await files.open('big.efi'), await files.open('big.efi'));
    assert.equal(await files.open('missing.efi'), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
