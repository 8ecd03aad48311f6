import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ByteSource } from '../../server/byte-source.ts';
import { checkPreconditions, ifRangeAllows, parseRange } from '../../server/http/range.ts';
import { createTreesHandler, decodeTreePath, splitTreeUrl, type TreeCatalog, type TreesHandler } from '../../server/http/trees.ts';
import { IsoCatalog } from '../../server/isos/catalog.ts';
import { silentLogger } from '../../server/log.ts';
import { fixtureBytes, manifest, sha256 } from '../isos/fixtures.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Starts a server on 127.0.0.1 routing /trees/ to `handler`; returns its base URL and a stop function. */
async function serve(handler: TreesHandler): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    const t = splitTreeUrl(req.url ?? '/');
    if (!t) return void res.writeHead(404).end();
    void handler(req, res, t.distro, t.path);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Sends one request with a raw (unnormalised) path. */
function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.path = path; // keep "..", "%2e" and friends exactly as written
    req.end();
  });
}

const C4 = '/trees/centos-4.4-i386';
let dir: string;
let catalog: IsoCatalog;
let base: string;
let smallChunks: string;
const servers: Server[] = [];
let initrd: Buffer;

describe('install trees over HTTP', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kickstand-trees-'));
    const iso = join(dir, 'CentOS-4.4-i386-binDVD.iso');
    writeFileSync(iso, fixtureBytes('centos4'));
    utimesSync(iso, 1e9, 1e9);
    catalog = new IsoCatalog({ dir, log: silentLogger() });
    await catalog.scan();
    const a = await serve(createTreesHandler({ catalog, log: silentLogger() }));
    const b = await serve(createTreesHandler({ catalog, log: silentLogger(), chunkSize: 1000 }));
    servers.push(a.server, b.server);
    base = a.base;
    smallChunks = b.base;
    const src = (await catalog.openFile('centos-4.4-i386', 'isolinux/initrd.img'))!;
    initrd = await src.read(0, src.size);
    await src.close?.();
  });
  after(async () => {
    for (const s of servers) s.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('GET sends the whole file with validators; HEAD sends the same headers and no body', async () => {
    const want = manifest('centos4').find((m) => m.path === 'isolinux/initrd.img')!;
    for (const b of [base, smallChunks]) {
      const r = await get(b, `${C4}/isolinux/initrd.img`);
      assert.equal(r.status, 200);
      assert.equal(want.kind === 'f' && want.sha256, sha256(r.body));
      assert.equal(r.headers['content-length'], String(initrd.length));
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.match(r.headers.etag!, /^"[0-9a-f]{16}-[0-9a-f]+-18000"$/);
      assert.ok(r.headers['last-modified']);
    }
    const h = await get(base, `${C4}/isolinux/initrd.img`, {}, 'HEAD');
    assert.deepEqual([h.status, h.headers['content-length'], h.body.length], [200, String(initrd.length), 0]);
    const rpm = await get(base, `${C4}/CentOS/RPMS/bash-3.0-19.3.i386.rpm`);
    assert.deepEqual([rpm.headers['content-type'], rpm.body.toString()], ['application/x-rpm', 'rpm bash-3.0-19.3.i386\n']);
  });

  test('a single range gets 206 with Content-Range; suffix and open-ended forms work', async () => {
    for (const b of [base, smallChunks]) {
      const r = await get(b, `${C4}/isolinux/initrd.img`, { Range: 'bytes=1000-4999' });
      assert.deepEqual([r.status, r.headers['content-range']], [206, `bytes 1000-4999/${initrd.length}`]);
      assert.deepEqual(r.body, initrd.subarray(1000, 5000));
    }
    const suffix = await get(base, `${C4}/isolinux/initrd.img`, { Range: 'bytes=-10' });
    assert.deepEqual(suffix.body, initrd.subarray(initrd.length - 10));
    const open = await get(base, `${C4}/isolinux/initrd.img`, { Range: 'bytes=98000-' });
    assert.deepEqual([open.headers['content-range'], open.body], [`bytes 98000-98303/98304`, initrd.subarray(98000)]);
  });

  test('several ranges come back as multipart/byteranges with an exact length', async () => {
    const r = await get(smallChunks, `${C4}/isolinux/initrd.img`, { Range: 'bytes=0-9, 5000-7999,-5' });
    assert.equal(r.status, 206);
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(r.headers['content-type']!)![1]!;
    assert.equal(Number(r.headers['content-length']), r.body.length);
    const parts = r.body.toString('latin1').split(`--${boundary}`).slice(1, -1);
    assert.equal(parts.length, 3);
    const expected = [[0, 9], [5000, 7999], [98299, 98303]] as const;
    parts.forEach((p, i) => {
      const [head, data] = p.split('\r\n\r\n') as [string, string];
      const [s, e] = expected[i]!;
      assert.match(head, new RegExp(`Content-Range: bytes ${s}-${e}/98304`));
      assert.deepEqual(Buffer.from(data.replace(/\r\n$/, ''), 'latin1'), initrd.subarray(s, e + 1));
    });
    assert.ok(r.body.toString('latin1').endsWith(`--${boundary}--\r\n`));
  });

  test('an unsatisfiable range gets 416 with the size; a malformed one is ignored', async () => {
    const r = await get(base, `${C4}/isolinux/initrd.img`, { Range: 'bytes=200000-' });
    assert.deepEqual([r.status, r.headers['content-range']], [416, 'bytes */98304']);
    const bad = await get(base, `${C4}/isolinux/initrd.img`, { Range: 'bytes=9-2' });
    assert.deepEqual([bad.status, bad.body.length], [200, 98304]);
  });

  test('If-Range: a matching ETag or date keeps the range, anything else gets the whole file', async () => {
    const { headers } = await get(base, `${C4}/isolinux/vmlinuz`, {}, 'HEAD');
    const ranged = (v: string) => get(base, `${C4}/isolinux/vmlinuz`, { Range: 'bytes=0-99', 'If-Range': v });
    assert.equal((await ranged(headers.etag!)).status, 206);
    assert.equal((await ranged(headers['last-modified']!)).status, 206);
    assert.equal((await ranged('"other"')).status, 200);
    assert.equal((await ranged(`W/${headers.etag!}`)).status, 200);
  });

  test('If-None-Match and If-Modified-Since answer 304; If-Match with another tag answers 412', async () => {
    const { headers } = await get(base, `${C4}/isolinux/vmlinuz`, {}, 'HEAD');
    const cond = (h: Record<string, string>) => get(base, `${C4}/isolinux/vmlinuz`, h);
    const hit = await cond({ 'If-None-Match': `"x", ${headers.etag!}` });
    assert.deepEqual([hit.status, hit.body.length, hit.headers.etag], [304, 0, headers.etag]);
    assert.equal((await cond({ 'If-None-Match': `W/${headers.etag!}` })).status, 304, 'weak comparison');
    assert.equal((await cond({ 'If-Modified-Since': headers['last-modified']! })).status, 304);
    assert.equal((await cond({ 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 200);
    assert.equal((await cond({ 'If-None-Match': '"x"', 'If-Modified-Since': headers['last-modified']! })).status, 200, 'If-None-Match wins');
    assert.equal((await cond({ 'If-Match': '"x"' })).status, 412);
  });

  test('directories list as HTML with relative links that resolve back to the files', async () => {
    const r = await get(base, `${C4}/CentOS/RPMS/`);
    assert.deepEqual([r.status, r.headers['content-type']], [200, 'text/html; charset=utf-8']);
    const hrefs = [...r.body.toString().matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(hrefs, ['../', 'bash-3.0-19.3.i386.rpm', 'grub-0.95-3.8.i386.rpm', 'kernel-2.6.9-42.EL.i686.rpm']);
    const target = new URL(hrefs[1]!, `${base}${C4}/CentOS/RPMS/`);
    assert.equal((await get(base, target.pathname)).status, 200);
    const root = await get(base, `${C4}/`);
    assert.match(root.body.toString(), /href="isolinux\/"/);
    assert.match(root.body.toString(), /href="\.discinfo"/);
    assert.doesNotMatch(root.body.toString(), /href="\.\.\/"/);
  });

  test('a directory without its trailing slash redirects to the slash form', async () => {
    const r = await get(base, `${C4}/isolinux?x=1`);
    assert.deepEqual([r.status, r.headers.location], [301, `${C4}/isolinux/?x=1`]);
    const root = await get(base, C4);
    assert.deepEqual([root.status, root.headers.location], [301, `${C4}/`]);
  });

  test('missing files and unknown distros get 404; other methods get 405', async () => {
    assert.equal((await get(base, `${C4}/nope.txt`)).status, 404);
    assert.equal((await get(base, `${C4}/isolinux/vmlinuz/deeper`)).status, 404);
    assert.equal((await get(base, `${C4}/isolinux/vmlinuz/`)).status, 404, 'a file asked for as a directory');
    assert.equal((await get(base, '/trees/no-such-distro/isolinux/vmlinuz')).status, 404);
    const post = await get(base, `${C4}/.discinfo`, {}, 'POST');
    assert.deepEqual([post.status, post.headers.allow], [405, 'GET, HEAD']);
  });

  test('paths that try to escape or smuggle separators get 400', async () => {
    for (const p of ['/../.discinfo', '/isolinux/../../x', '/%2e%2e/x', '/isolinux%2f..%2f.discinfo', '/a%5cb', '/a%00b', '/%zz', '/./x']) {
      assert.equal((await get(base, `${C4}${p}`)).status, 400, p);
    }
    assert.equal((await get(base, `${C4}/%2Ediscinfo`)).status, 200, 'an encoded dot inside a name is fine');
  });
});

describe('transfers stop cleanly', () => {
  test('a client that goes away mid-transfer stops the reads and the file is closed', async () => {
    let reads = 0;
    let closed = false;
    const size = 64 * 1024 * 1024;
    const src: ByteSource = {
      size,
      read: async (_o, l) => (reads++, Buffer.alloc(l)),
      close: async () => void (closed = true),
    };
    const fake: TreeCatalog = {
      identity: () => 'id',
      stat: async () => ({ name: 'big', type: 'file', size, mtime: new Date(0), extents: [{ start: 0, length: size }], hidden: false, recordOffset: 0 }),
      listDir: async () => null,
      openFile: async () => src,
    };
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const handler = createTreesHandler({ catalog: fake, log: silentLogger(), chunkSize: 65536 });
    const { base: b, server } = await serve(async (req, res, d, p) => {
      await handler(req, res, d, p);
      finished();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${b}/trees/x/big`, (res) => res.once('data', () => req.destroy()));
        req.on('error', () => undefined); // the abort itself
        req.on('close', resolve);
        req.end();
        setTimeout(() => reject(new Error('no data')), 5000).unref();
      });
      await done;
      assert.equal(closed, true);
      assert.ok(reads < size / 65536, `stopped after ${reads} of ${size / 65536} reads`);
    } finally {
      server.close();
    }
  });
});

describe('range and precondition rules', () => {
  test('parseRange follows RFC 9110 14.1.2', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { kind: 'ranges', ranges: [{ start: 0, end: 0 }] });
    assert.deepEqual(parseRange('bytes=5-100', 10), { kind: 'ranges', ranges: [{ start: 5, end: 9 }] });
    assert.deepEqual(parseRange('bytes=-100', 10), { kind: 'ranges', ranges: [{ start: 0, end: 9 }] });
    assert.deepEqual(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-1,20-30', 10), { kind: 'ranges', ranges: [{ start: 0, end: 1 }] });
    for (const h of ['items=0-1', 'bytes=', 'bytes=a-b', 'bytes=5-1', 'bytes=-', undefined]) assert.deepEqual(parseRange(h, 10), { kind: 'none' }, String(h));
    assert.deepEqual(parseRange(`bytes=${Array(17).fill('0-0').join(',')}`, 10), { kind: 'none' }, 'too many ranges');
    assert.deepEqual(parseRange('bytes=0-9,0-9,0-9', 10), { kind: 'none' }, 'overlapping ranges past twice the size');
  });

  test('preconditions evaluate in RFC 9110 13.2.2 order', () => {
    const v = { etag: '"a"', lastModified: new Date('2024-01-02T03:04:05Z') };
    const lm = v.lastModified.toUTCString();
    assert.equal(checkPreconditions({}, v), null);
    assert.equal(checkPreconditions({ 'if-match': '"a"', 'if-none-match': '"a"' }, v), 304);
    assert.equal(checkPreconditions({ 'if-match': 'W/"a"' }, v), 412, 'If-Match compares strongly');
    assert.equal(checkPreconditions({ 'if-unmodified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' }, v), 412);
    assert.equal(checkPreconditions({ 'if-none-match': '*' }, v), 304);
    assert.equal(checkPreconditions({ 'if-modified-since': 'not a date' }, v), null);
    assert.equal(ifRangeAllows(lm, v), true);
    assert.equal(ifRangeAllows('Mon, 01 Jan 2024 00:00:00 GMT', v), false);
  });

  test('tree URLs split into distro and raw path; escaping paths decode to null', () => {
    assert.deepEqual(splitTreeUrl('/trees/c4/a/b?q'), { distro: 'c4', path: '/a/b' });
    assert.deepEqual(splitTreeUrl('/trees/c4'), { distro: 'c4', path: '' });
    assert.equal(splitTreeUrl('/other/c4'), null);
    assert.deepEqual(decodeTreePath('/a%20b//c/'), ['a b', 'c']);
    assert.equal(decodeTreePath('/a/%2E%2E'), null);
  });
});
