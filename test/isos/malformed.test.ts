// Corrupted copies of the fixtures: each must be refused with IsoError, never hang (test timeouts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../server/byte-source.ts';
import { IsoError } from '../../server/errors.ts';
import { openIso } from '../../server/isos/reader.ts';
import { fixtureBytes, readAll } from './fixtures.ts';

const T = { timeout: 5000 };
const BS = 2048;

/** Returns a reader over `bytes` (with Rock Ridge names). */
const open = (bytes: Buffer) => openIso(bufferSource(bytes));

/** Points the directory record at `recordOffset` to `block` (both-endian, ECMA-119 9.1.3). */
function setBlock(bytes: Buffer, recordOffset: number, block: number): void {
  bytes.writeUInt32LE(block, recordOffset + 2);
  bytes.writeUInt32BE(block, recordOffset + 6);
}

/** Returns the byte offset of an entry's record and the block its extent starts at. */
async function where(bytes: Buffer, path: string): Promise<{ record: number; block: number }> {
  const e = (await (await open(bytes)).stat(path, false))!;
  return { record: e.recordOffset, block: e.extents[0]!.start / BS };
}

/** Asserts that `p` rejects with an IsoError whose message matches `re`. */
async function refuses(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof IsoError, `expected IsoError, got ${String(err)}`);
    assert.match(err.message, re);
    return true;
  });
}

describe('malformed images', () => {
  test('a truncated image is refused when opened', T, async () => {
    const bytes = fixtureBytes('el9');
    await refuses(open(bytes.subarray(0, Math.floor(bytes.length / 2))), /truncated/);
    await refuses(open(bytes.subarray(0, 20 * 1024)), /too small/);
    await refuses(open(Buffer.alloc(0)), /too small/);
  });

  test('an image without CD001 at sector 16 is refused', T, async () => {
    const bytes = fixtureBytes('el9');
    bytes.write('XXXXX', 16 * BS + 1, 'latin1');
    await refuses(open(bytes), /no 'CD001' volume descriptor at sector 16/);
    await refuses(open(Buffer.alloc(64 * 1024)), /CD001/);
  });

  test('a descriptor with an impossible block size is refused', T, async () => {
    const bytes = fixtureBytes('el9');
    bytes.writeUInt16LE(3000, 16 * BS + 128);
    await refuses(open(bytes), /bad logical block size 3000/);
  });

  test('a root directory past the end of the image is refused when opened', T, async () => {
    const bytes = fixtureBytes('el9');
    setBlock(bytes, 16 * BS + 156, 0x00ffffff);
    await refuses(open(bytes), /root directory.*runs past the end/);
  });

  test('a directory pointing back at its ancestor is a loop, for lookups and walks', T, async () => {
    const bytes = fixtureBytes('rockridge');
    const deep = await where(bytes, 'deep');
    const level2 = await where(bytes, 'deep/level1/level2');
    setBlock(bytes, level2.record, deep.block);
    const r = await open(bytes);
    await refuses(r.stat('deep/level1/level2/level1'), /directory loop/);
    await refuses((async () => {
      for await (const _ of r.walk()) void _;
    })(), /directory loop/);
  });

  test('a directory pointing at itself is a loop', T, async () => {
    const bytes = fixtureBytes('joliet');
    const r0 = await openIso(bufferSource(bytes));
    const dir = (await r0.stat('Mixed Case Folder'))!;
    // Make the folder's first file a directory record pointing at the folder's own extent.
    const file = (await r0.stat('Mixed Case Folder/Data.bin'))!;
    setBlock(bytes, file.recordOffset, dir.extents[0]!.start / BS);
    bytes[file.recordOffset + 25] = 0x02;
    const r = await open(bytes);
    await refuses(r.stat('Mixed Case Folder/Data.bin/Data.bin/x'), /directory loop/);
  });

  test('a file extent past the end of the image is refused', T, async () => {
    const bytes = fixtureBytes('rockridge');
    const blob = await where(bytes, 'docs/blob.bin');
    setBlock(bytes, blob.record, bytes.length / BS - 10);
    const r = await open(bytes);
    await refuses(r.openFile('docs/blob.bin'), /'\/docs\/blob.bin'.*runs past the end of the image/);
  });

  test('a directory record with a bad length is refused', T, async () => {
    const bytes = fixtureBytes('el9');
    const e = await where(bytes, 'images/pxeboot/vmlinuz');
    bytes[e.record] = 20;
    const r = await open(bytes);
    await refuses(r.listDir('images/pxeboot'), /bad record length 20/);
    const bytes2 = fixtureBytes('el9');
    bytes2[e.record + 32] = 200; // a name longer than its record
    await refuses((await open(bytes2)).listDir('images/pxeboot'), /name length 200/);
  });

  test('a directory record running across its sector boundary is refused', T, async () => {
    const bytes = fixtureBytes('rockridge');
    const many = (await (await open(bytes)).stat('many'))!.extents[0]!.start;
    let pos = 0;
    while (bytes[many + pos + bytes[many + pos]!] !== 0) pos += bytes[many + pos]!; // to the last record before the padding
    const len = bytes[many + pos]!;
    const stretched = BS - pos + 2;
    assert.ok(stretched > len && stretched <= 255, `last record of the first sector at ${pos} (+${len}) can be stretched`);
    bytes[many + pos] = stretched;
    await refuses((await open(bytes)).listDir('many'), new RegExp(`bad record length ${stretched}`));
  });

  test('a SUSP continuation area pointing at itself is cut off', T, async () => {
    const bytes = fixtureBytes('rockridge');
    const r0 = await open(bytes);
    const long = (await r0.listDir('docs'))!.find((e) => e.name.length > 200)!;
    const rec = bytes.subarray(long.recordOffset, long.recordOffset + bytes[long.recordOffset]!);
    const ce = rec.indexOf(Buffer.from('CE\x1c\x01', 'latin1'));
    assert.ok(ce > 0, 'the long name spills into a continuation area');
    const ceAt = long.recordOffset + ce;
    bytes.writeUInt32LE(Math.floor(ceAt / BS), ceAt + 4);
    bytes.writeUInt32BE(Math.floor(ceAt / BS), ceAt + 8);
    bytes.writeUInt32LE(ceAt % BS, ceAt + 12);
    bytes.writeUInt32BE(ceAt % BS, ceAt + 16);
    bytes.writeUInt32LE(28, ceAt + 20);
    bytes.writeUInt32BE(28, ceAt + 24);
    await refuses((await open(bytes)).listDir('docs'), /CE loop/);
  });

  test('symbolic links that point at each other are refused after a bounded number of hops', T, async () => {
    const r = await open(fixtureBytes('rockridge'));
    await refuses(r.openFile('loop-a'), /symbolic links/);
    assert.equal((await r.stat('loop-a', false))!.target, 'loop-b');
  });

  test('a read that comes back short is an error, not silent truncation', T, async () => {
    const bytes = fixtureBytes('el9');
    const inner = bufferSource(bytes);
    const r = await openIso({ size: bytes.length, read: async (o, l) => (l > 4096 ? (await inner.read(o, l)).subarray(0, 100) : inner.read(o, l)) });
    await refuses(readAll((await r.openFile('images/pxeboot/initrd.img'))!, 65536), /short read/);
  });
});
