// A file over 4 GiB in an ISO: xorriso records it as several extents (multi-extent, ECMA-119 6.5.1).
// Source and image are sparse (dd conv=sparse), so the test costs a few MiB of disk. Ranges around
// the extent boundary and the 4 GiB mark are compared byte for byte, directly and over HTTP, then
// the whole file is hashed as a stream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileSource, type ByteSource } from '../../server/byte-source.ts';
import { createTreesHandler, splitTreeUrl } from '../../server/http/trees.ts';
import { IsoCatalog } from '../../server/isos/catalog.ts';
import { openIso, type IsoReader } from '../../server/isos/reader.ts';
import { silentLogger } from '../../server/log.ts';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';

const run = promisify(execFile);
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const SIZE = 4.5 * GiB + 12_345;
/** Where random data sits in the otherwise sparse file: the start, both sides of 4 GiB, the end. */
const PATCHES = [0, 4 * GiB - 3 * MiB + 777, 4 * GiB - MiB / 2, SIZE - MiB];
/** Ranges compared directly: [offset, length]. */
const RANGES: Array<[number, number]> = [
  [0, MiB],
  [4 * GiB - 2048 - 4096, 8192], // around the first extent's end (4 GiB - 2 KiB)
  [4 * GiB - 2048 - 1, 2], // one byte each side of it
  [4 * GiB - MiB / 2, MiB], // across the 4 GiB mark
  [SIZE - MiB - 100, MiB + 100],
];

const skip = skipUnlessRoot('needs root (installs xorriso)');

describe('a file over 4 GiB stored as a multi-extent file', { skip }, () => {
  let work: string;
  let srcFile: ByteSource;
  let image: ByteSource;
  let reader: IsoReader;

  before(async () => {
    ensurePackages(['xorriso']);
    work = mkdtempSync(join(tmpdir(), 'kickstand-isos-large-'));
    const src = join(work, 'src');
    mkdirSync(join(src, 'isolinux'), { recursive: true });
    writeFileSync(join(src, '.discinfo'), '1\nCentOS 4.4\ni386\n1\n');
    writeFileSync(join(src, 'isolinux/vmlinuz'), randomBytes(1000));
    writeFileSync(join(src, 'isolinux/initrd.img'), randomBytes(1000));
    const fd = openSync(join(src, 'huge.img'), 'w');
    ftruncateSync(fd, SIZE);
    for (const at of PATCHES) writeSync(fd, randomBytes(MiB), 0, MiB, at);
    closeSync(fd);
    mkdirSync(join(work, 'isos'));
    const iso = join(work, 'isos', 'huge.iso');
    await run('bash', [
      '-o', 'pipefail', '-c',
      'xorriso -report_about FAILURE -file_size_limit off -- -outdev stdio:/dev/stdout -map "$1" / | dd of="$2" bs=64K conv=sparse status=none',
      'build', src, iso,
    ], { timeout: 300_000 });
    srcFile = await fileSource(join(src, 'huge.img'));
    image = await fileSource(iso);
    reader = await openIso(image);
  });
  after(async () => {
    await srcFile?.close?.();
    await image?.close?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the file is several extents whose sizes add up to the original', async () => {
    const e = (await reader.stat('huge.img'))!;
    assert.equal(e.size, SIZE);
    assert.ok(e.extents.length >= 2, `${e.extents.length} extents`);
    assert.ok(e.extents.every((x) => x.length < 4 * GiB));
  });

  test('ranges around the extent boundary and 4 GiB read back byte for byte', async () => {
    const f = (await reader.openFile('huge.img'))!;
    for (const [at, len] of RANGES) {
      assert.deepEqual(await f.read(at, len), await srcFile.read(at, len), `read(${at}, ${len})`);
    }
    const into = Buffer.alloc(3 * MiB);
    const at = 4 * GiB - 2048 - MiB;
    assert.equal(await f.readInto(into, at), into.length);
    assert.deepEqual(into, await srcFile.read(at, into.length), 'readInto across the extent boundary');
  });

  test('HTTP ranges across the boundary come back right', { timeout: 60_000 }, async () => {
    const catalog = new IsoCatalog({ dir: join(work, 'isos'), log: silentLogger(), now: () => Date.now() + 3_600_000 });
    const handler = createTreesHandler({ catalog, log: silentLogger() });
    const server: Server = createServer((req, res) => {
      const t = splitTreeUrl(req.url ?? '/');
      if (t) void handler(req, res, t.distro, t.path);
      else res.writeHead(404).end();
    });
    try {
      await catalog.scan();
      assert.deepEqual(catalog.list().map((e) => e.name), ['centos-4.4-i386']);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const [s, e] = [4 * GiB - 2048 - 70_000, 4 * GiB + 70_000];
      const body = await new Promise<{ status: number; range?: string; data: Buffer }>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/trees/centos-4.4-i386/huge.img', headers: { Range: `bytes=${s}-${e}` } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, range: res.headers['content-range'], data: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      });
      assert.deepEqual([body.status, body.range], [206, `bytes ${s}-${e}/${SIZE}`]);
      assert.deepEqual(body.data, await srcFile.read(s, e - s + 1));
    } finally {
      server.close();
      await catalog.close();
    }
  });

  test('a full streaming hash of the file matches the source', { timeout: 600_000 }, async (t) => {
    const f = (await reader.openFile('huge.img'))!;
    const hash = async (read: (at: number, buf: Buffer) => Promise<number>) => {
      const h = createHash('sha256');
      const buf = Buffer.allocUnsafe(4 * MiB);
      for (let at = 0; at < SIZE; ) {
        const n = await read(at, buf);
        assert.ok(n > 0, `read at ${at}`);
        h.update(buf.subarray(0, n));
        at += n;
      }
      return h.digest('hex');
    };
    const t0 = Date.now();
    const fromIso = await hash((at, buf) => f.readInto(buf, at));
    const t1 = Date.now();
    const fromSrc = await hash(async (at, buf) => (await srcFile.read(at, buf.length)).copy(buf));
    t.diagnostic(`sha256 of ${SIZE} bytes: ${((t1 - t0) / 1000).toFixed(1)} s from the ISO, ${((Date.now() - t1) / 1000).toFixed(1)} s from the source file`);
    assert.equal(fromIso, fromSrc);
  });
});
