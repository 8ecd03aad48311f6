import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectIsoFile } from '../../server/isos/inspect.ts';
import { fixtureBytes } from './fixtures.ts';

test('inspecting an image reports volume, boot catalog and distro, or the reason it is unreadable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kickstand-inspect-'));
  try {
    writeFileSync(join(dir, 'el9.iso'), fixtureBytes('el9'));
    writeFileSync(join(dir, 'cut.iso'), fixtureBytes('el9').subarray(0, 50_000));
    const good = await inspectIsoFile(join(dir, 'el9.iso'));
    assert.equal(good.error, undefined);
    assert.equal(good.volume?.volumeId, 'Rocky-9-2-x86_64-dvd');
    assert.deepEqual(good.boot?.entries.map((e) => e.platform), ['x86', 'efi']);
    assert.equal(good.distro?.name, 'rocky-9.2-x86_64');
    const cut = await inspectIsoFile(join(dir, 'cut.iso'));
    assert.match(cut.error!, /truncated/);
    assert.equal(cut.size, 50_000);
    assert.match((await inspectIsoFile(join(dir, 'missing.iso'))).error!, /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
