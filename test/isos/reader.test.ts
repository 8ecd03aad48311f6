import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../server/byte-source.ts';
import { openIso, type IsoReader } from '../../server/isos/reader.ts';
import { countingSource, fixtureBytes, manifest, readAll, sha256 } from './fixtures.ts';
import { synthIso } from './synth.ts';

/** Opens fixture `name` from memory. */
async function open(name: string, names?: 'rockridge' | 'joliet' | 'iso'): Promise<IsoReader> {
  return openIso(bufferSource(fixtureBytes(name)), names ? { names } : {});
}

/** Entries a tool adds on its own (boot catalog, relocation folder) or that it patched. */
const TOOL_ADDED = new Set(['isolinux/boot.cat', 'rr_moved', 'isolinux/isolinux.bin']);

/** Asserts that the image holds exactly the manifest's tree, byte for byte. */
async function assertMatchesManifest(reader: IsoReader, name: string): Promise<void> {
  const want = manifest(name);
  for (const m of want) {
    const e = await reader.stat(m.path, false);
    assert.ok(e, `${name}: ${m.path} is missing`);
    if (m.kind === 'd') assert.equal(e.type, 'dir', `${name}: ${m.path} is a directory`);
    if (m.kind === 'l') assert.deepEqual([e.type, e.target], ['symlink', m.target], `${name}: ${m.path} links to ${m.target}`);
    if (m.kind === 'f') {
      assert.equal(e.type, 'file', `${name}: ${m.path} is a file`);
      const src = await reader.openFile(m.path);
      assert.equal(src!.size, m.size, `${name}: ${m.path} size`);
      assert.equal(sha256(await readAll(src!)), m.sha256, `${name}: ${m.path} content`);
    }
  }
  const listed = new Set<string>();
  for await (const { path } of reader.walk()) listed.add(path.slice(1));
  const expected = new Set(want.map((m) => m.path));
  const extra = [...listed].filter((p) => !expected.has(p) && !TOOL_ADDED.has(p));
  assert.deepEqual(extra, [], `${name}: nothing but the source tree is listed`);
}

describe('iso reader over tool-built fixtures', () => {
  for (const name of ['rockridge', 'rr-deep', 'joliet', 'centos4', 'el9']) {
    test(`${name}: every file, directory and symlink reads back as it went in`, async () => {
      await assertMatchesManifest(await open(name), name);
    });
  }

  test('plain: upper-case 8.3 names lose ";1" and a trailing dot, and look up case-insensitively', async () => {
    const r = await open('plain');
    assert.equal(r.volume.names, 'iso');
    const names = (await r.listDir('/'))!.map((e) => e.name).sort();
    assert.deepEqual(names, ['DATA', 'KERNEL', 'README.TXT']);
    for (const m of manifest('plain')) {
      if (m.kind !== 'f') continue;
      const src = await r.openFile(m.path);
      assert.equal(sha256(await readAll(src!)), m.sha256, m.path);
    }
    assert.equal((await r.stat('data/sub/empty.dat'))!.size, 0);
  });

  test('rockridge: names, modes and symlinks come from Rock Ridge', async () => {
    const r = await open('rockridge');
    assert.equal(r.volume.names, 'rockridge');
    assert.equal(r.volume.rockRidge, true);
    const docs = (await r.listDir('docs'))!.map((e) => e.name);
    assert.ok(docs.some((n) => n.length === 205), 'the 205-character name survives (NM over a CE area)');
    assert.ok(docs.includes('ünïcödé-файл.txt'));
    const tool = await r.stat('bin/tool');
    assert.equal(tool!.mode! & 0o777, 0o755);
    assert.equal((await r.stat('docs/readme.txt'))!.mode, 0o100644);
    const readme = await readAll((await r.openFile('docs/readme.txt'))!);
    for (const p of ['docs/link-relative', 'bin/link-dir/readme.txt', 'link-absolute', '/bin/link-dir/../docs/readme.txt']) {
      assert.deepEqual(await readAll((await r.openFile(p))!), readme, `${p} leads to docs/readme.txt`);
    }
    assert.equal(await r.openFile('link-dangling'), null);
    assert.equal((await r.stat('bin/link-dir'))!.type, 'dir');
    assert.equal((await r.stat('bin/link-dir', false))!.type, 'symlink');
    assert.equal((await r.listDir('many'))!.length, 300, 'a directory over many sectors lists whole');
  });

  test('rockridge: the same image read through plain ISO names shows the 8.3 names and no symlinks', async () => {
    const r = await open('rockridge', 'iso');
    assert.equal(r.volume.names, 'iso');
    const names = (await r.listDir('docs'))!.map((e) => e.name);
    assert.ok(names.includes('README.TXT') && names.includes('BLOB.BIN'), names.join(','));
    assert.ok(names.every((n) => /^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{1,3})?$/.test(n)), names.join(','));
    assert.equal((await r.stat('link_abs', false))!.type, 'file', 'without Rock Ridge a symlink is an empty file');
  });

  test('centos4: Rock Ridge is preferred over Joliet, and the Joliet tree is readable when asked for', async () => {
    const auto = await open('centos4');
    assert.deepEqual([auto.volume.names, auto.volume.rockRidge, auto.volume.joliet], ['rockridge', true, true]);
    const joliet = await open('centos4', 'joliet');
    assert.equal(joliet.volume.names, 'joliet');
    assert.equal((await joliet.stat('/isolinux/vmlinuz'))!.mode, undefined, 'Joliet records carry no PX mode');
    const a = await readAll((await auto.openFile('isolinux/initrd.img'))!);
    const b = await readAll((await joliet.openFile('isolinux/initrd.img'))!);
    assert.deepEqual(a, b);
  });

  test('joliet: mixed case, spaces and long names come from the supplementary descriptor', async () => {
    const r = await open('joliet');
    assert.deepEqual([r.volume.names, r.volume.rockRidge], ['joliet', false]);
    assert.ok(await r.stat('Mixed Case Folder/A Long Joliet File Name With Spaces.txt'));
    assert.equal(await r.stat('mixed case folder/data.bin'), null, 'Joliet lookups are case-sensitive');
  });

  test('rr-deep: directories relocated past depth 8 are reached through CL and hidden from rr_moved', async () => {
    const r = await open('rr-deep');
    const deep = `deep/${Array.from({ length: 11 }, (_, i) => `level${i + 1}`).join('/')}/leaf.txt`;
    assert.equal((await readAll((await r.openFile(deep))!)).toString(), 'bottom\n');
    assert.deepEqual(await r.listDir('rr_moved'), []);
  });

  test('el torito: the boot catalog lists platform, emulation, load size and the boot image location', async () => {
    const c4 = await open('centos4');
    const cat4 = (await c4.bootCatalog())!;
    assert.equal(cat4.entries.length, 1);
    const bios = cat4.entries[0]!;
    assert.deepEqual([bios.platform, bios.bootable, bios.emulation, bios.sectorCount], ['x86', true, 'none', 4]);
    assert.equal(bios.imageOffset, (await c4.stat('isolinux/isolinux.bin'))!.extents[0]!.start);

    const el9 = await open('el9');
    const cat9 = (await el9.bootCatalog())!;
    assert.deepEqual(cat9.entries.map((e) => e.platform), ['x86', 'efi']);
    assert.equal(cat9.entries[1]!.imageOffset, (await el9.stat('images/efiboot.img'))!.extents[0]!.start);
    assert.equal(el9.volume.elTorito, true);
    assert.equal(await (await open('plain')).bootCatalog(), null);
  });

  test('file ranges: any slice equals the same slice of the whole file, short only at the end', async () => {
    const r = await open('rockridge');
    const src = (await r.openFile('docs/blob.bin'))!;
    const whole = await src.read(0, src.size);
    assert.equal(whole.length, 150001);
    for (const [off, len] of [[0, 1], [2047, 2], [4095, 10000], [150000, 5], [149990, 100]] as const) {
      assert.deepEqual(await src.read(off, len), whole.subarray(off, off + len), `read(${off}, ${len})`);
    }
    assert.equal((await src.read(150001, 10)).length, 0);
    assert.equal((await src.read(200000, 10)).length, 0);
  });

  test('directory listings are cached: a repeated lookup reads nothing from the image', async () => {
    const src = countingSource(fixtureBytes('el9'));
    const r = await openIso(src, { dirCacheSize: 8 });
    await r.stat('images/pxeboot/vmlinuz');
    const before = src.reads;
    await r.stat('images/pxeboot/vmlinuz');
    await r.stat('images/pxeboot/initrd.img');
    assert.equal(src.reads, before);

    const tiny = countingSource(fixtureBytes('el9'));
    const evicting = await openIso(tiny, { dirCacheSize: 1 });
    await evicting.listDir('images/pxeboot');
    await evicting.listDir('isolinux');
    const mid = tiny.reads;
    await evicting.listDir('images/pxeboot');
    assert.ok(tiny.reads > mid, 'with room for one listing, the older ones are read again');
  });

  test('readFile returns small files whole and refuses ones past its limit', async () => {
    const r = await open('el9');
    assert.match((await r.readFile('.treeinfo'))!.toString(), /productmd/);
    assert.equal(await r.readFile('nope'), null);
    await assert.rejects(r.readFile('images/pxeboot/vmlinuz', 1000), { name: 'IsoError' });
  });
});

describe('multi-extent files', () => {
  test('a file recorded as several extents out of order reads as one, across extent boundaries', async () => {
    const pieces = [Buffer.alloc(4096, 1), Buffer.alloc(2048, 2), Buffer.alloc(777, 3)];
    pieces[0]!.write('start');
    pieces[2]!.write('end', 774);
    const r = await openIso(bufferSource(synthIso([{ name: 'BIG.BIN', pieces }, { name: 'SMALL.TXT', pieces: [Buffer.from('small')] }])));
    const e = (await r.stat('BIG.BIN'))!;
    assert.equal(e.extents.length, 3);
    assert.equal(e.size, 4096 + 2048 + 777);
    const src = (await r.openFile('BIG.BIN'))!;
    const whole = Buffer.concat(pieces);
    assert.deepEqual(await src.read(0, src.size), whole);
    assert.deepEqual(await src.read(4000, 3000), whole.subarray(4000, 7000), 'a read spanning all three extents');
    assert.deepEqual(await readAll(src, 1000), whole);
    assert.deepEqual(await readAll((await r.openFile('small.txt'))!), Buffer.from('small'));
    assert.deepEqual((await r.listDir('/'))!.map((x) => x.name), ['BIG.BIN', 'SMALL.TXT']);
  });
});
