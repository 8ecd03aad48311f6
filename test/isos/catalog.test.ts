import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogger, silentLogger } from '../../server/log.ts';
import { IsoCatalog, type CatalogEntry } from '../../server/isos/catalog.ts';
import { fixtureBytes, manifest, readAll, sha256 } from './fixtures.ts';

const T = { timeout: 10_000 };
const HOUR = 3600_000;
let dir: string;

/** Writes fixture `fixture` into the test folder as `file`, last modified `ageMs` before `now`. */
function put(file: string, fixture: string | Buffer, now: number, ageMs = HOUR): string {
  const path = join(dir, file);
  writeFileSync(path, typeof fixture === 'string' ? fixtureBytes(fixture) : fixture);
  utimesSync(path, (now - ageMs) / 1000, (now - ageMs) / 1000);
  return path;
}

/** Returns a fresh empty folder for one test. */
function freshDir(): string {
  rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'kickstand-isos-'));
  return dir;
}

describe('iso catalog', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kickstand-isos-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a scan turns each stable image into a distro whose files read back', T, async () => {
    freshDir();
    const now = Date.now();
    put('CentOS-4.4-i386-binDVD.iso', 'centos4', now);
    put('Rocky-9.2-x86_64-dvd.iso', 'el9', now);
    writeFileSync(join(dir, 'README.md'), 'not an image');
    const cat = new IsoCatalog({ dir, log: silentLogger(), now: () => now });
    try {
      await cat.scan();
      assert.deepEqual(cat.list().map((e) => e.name), ['centos-4.4-i386', 'rocky-9.2-x86_64']);
      const c4 = cat.get('centos-4.4-i386')!;
      assert.deepEqual([c4.distro.family, c4.fileName, c4.distro.kernel], ['el4', 'CentOS-4.4-i386-binDVD.iso', 'isolinux/vmlinuz']);
      assert.equal(cat.byFile('CentOS-4.4-i386-binDVD.iso')?.name, 'centos-4.4-i386');
      assert.match(cat.identity('centos-4.4-i386')!, /^[0-9a-f]{16}$/);
      const want = manifest('centos4').find((m) => m.path === 'isolinux/initrd.img');
      const src = (await cat.openFile('centos-4.4-i386', 'isolinux/initrd.img'))!;
      assert.equal(want?.kind === 'f' && want.sha256, sha256(await readAll(src)));
      await src.close?.();
      assert.deepEqual((await cat.listDir('centos-4.4-i386', 'CentOS/RPMS'))!.length, 3);
      assert.equal((await cat.stat('rocky-9.2-x86_64', 'images/pxeboot'))!.type, 'dir');
      assert.equal(await cat.openFile('nope', 'isolinux/vmlinuz'), null);
      assert.equal(await cat.stat('centos-4.4-i386', 'nope'), null);
    } finally {
      await cat.close();
    }
  });

  test('a malformed image and one without a distro are skipped, with the reason logged', T, async () => {
    freshDir();
    const now = Date.now();
    put('broken.iso', fixtureBytes('el9').subarray(0, 100_000), now);
    put('data.iso', 'joliet', now);
    put('good.iso', 'el9', now);
    const { log, lines } = captureLogger();
    const cat = new IsoCatalog({ dir, log, now: () => now });
    try {
      await cat.scan();
      assert.deepEqual(cat.list().map((e) => e.fileName), ['good.iso']);
      const skipped = new Map(cat.skipped().map((s) => [s.isoPath.replace(`${dir}/`, ''), s.reason]));
      assert.match(skipped.get('broken.iso')!, /truncated/);
      assert.match(skipped.get('data.iso')!, /no distro found: .*no \.treeinfo/);
      const logged = lines().filter((l) => l.msg === 'isos: image skipped');
      assert.equal(logged.length, 2);
      assert.ok(logged.some((l) => String(l.iso).endsWith('broken.iso') && /truncated/.test(String(l.reason))));
      await cat.scan();
      assert.equal(lines().filter((l) => l.msg === 'isos: image skipped').length, 2, 'an unchanged bad image is not retried');
    } finally {
      await cat.close();
    }
  });

  test('a file still growing is not opened until size and mtime hold still for the settle interval', T, async () => {
    freshDir();
    let now = Date.now();
    const bytes = fixtureBytes('el9');
    const path = put('growing.iso', bytes.subarray(0, 65536), now, 0);
    const cat = new IsoCatalog({ dir, log: silentLogger(), now: () => now, settleMs: 5000 });
    try {
      await cat.scan();
      assert.deepEqual([cat.list().length, cat.skipped().length], [0, 0]);
      now += 3000;
      appendFileSync(path, bytes.subarray(65536));
      utimesSync(path, now / 1000, now / 1000);
      await cat.scan();
      assert.deepEqual([cat.list().length, cat.skipped().length], [0, 0], 'it changed since the last look');
      now += 3000;
      await cat.scan();
      assert.equal(cat.list().length, 0, 'unchanged for 3 s of the 5 s needed');
      now += 2000;
      await cat.scan();
      assert.deepEqual(cat.list().map((e) => e.name), ['rocky-9.2-x86_64']);
    } finally {
      await cat.close();
    }
  });

  test('a removed image disappears; a replaced one is reloaded; a duplicate distro gets a file-name suffix', T, async () => {
    freshDir();
    const now = Date.now();
    const a = put('a.iso', 'el9', now);
    put('b.iso', 'el9', now);
    const cat = new IsoCatalog({ dir, log: silentLogger(), now: () => now });
    const removed: CatalogEntry[] = [];
    cat.on('removed', (e: CatalogEntry) => removed.push(e));
    try {
      await cat.scan();
      assert.deepEqual(cat.list().map((e) => e.name), ['rocky-9.2-x86_64', 'rocky-9.2-x86_64-b']);
      const open = (await cat.openFile('rocky-9.2-x86_64', 'images/pxeboot/vmlinuz'))!;
      unlinkSync(a);
      await cat.scan();
      assert.deepEqual(cat.list().map((e) => e.name), ['rocky-9.2-x86_64-b']);
      assert.deepEqual(removed.map((e) => e.fileName), ['a.iso']);
      assert.equal((await open.read(0, 10)).length, 10, 'a transfer already under way keeps reading');
      await open.close?.();
      const before = cat.get('rocky-9.2-x86_64-b')!.identity;
      put('b.iso', 'centos4', now, HOUR / 2);
      await cat.scan();
      assert.deepEqual(cat.list().map((e) => e.name), ['centos-4.4-i386']);
      assert.notEqual(cat.get('centos-4.4-i386')!.identity, before);
    } finally {
      await cat.close();
    }
  });

  test('watching: an image copied in appears without a restart and goes when deleted', T, async () => {
    freshDir();
    const cat = new IsoCatalog({ dir, log: silentLogger(), settleMs: 50, rescanMs: 200, debounceMs: 20 });
    const keepAlive = setInterval(() => undefined, 1000); // the catalog's own watcher and timers do not hold the process
    try {
      await cat.start();
      assert.equal(cat.list().length, 0);
      const added = once(cat, 'added');
      const path = put('new.iso', 'centos4', Date.now());
      const [entry] = (await added) as [CatalogEntry];
      assert.equal(entry.name, 'centos-4.4-i386');
      const removed = once(cat, 'removed');
      unlinkSync(path);
      await removed;
      assert.equal(cat.list().length, 0);
    } finally {
      clearInterval(keepAlive);
      await cat.close();
    }
  });
});
