// ISOs built by xorriso and genisoimage from Debian, with and without Rock Ridge and Joliet, read
// back file by file against the tree they were built from; one is served over HTTP and mirrored
// with wget through the directory listings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource, type ByteSource } from '../../server/byte-source.ts';
import { createTreesHandler, splitTreeUrl } from '../../server/http/trees.ts';
import { IsoCatalog } from '../../server/isos/catalog.ts';
import { openIso } from '../../server/isos/reader.ts';
import { silentLogger } from '../../server/log.ts';
import { compareTree, contentSums, expectedSums, scanTree, writeTree, type Expected } from '../isos/source-tree.ts';
import { ensurePackages, skipUnlessRoot } from './lib/apt.ts';

interface Variant {
  name: string;
  /** Builds `out` from `src`. */
  build: (src: string, out: string) => void;
  names: 'rockridge' | 'joliet' | 'iso';
  /** Also read the Joliet tree of this image and compare it. */
  alsoJoliet?: boolean;
}

const quiet = { stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
const xorrisoNative = (flags: string[]) => (src: string, out: string) =>
  void execFileSync('xorriso', ['-report_about', 'FAILURE', '-in_charset', 'UTF-8', ...flags, '-outdev', out, '-map', src, '/'], quiet);
const mkisofs = (tool: 'xorriso' | 'genisoimage', flags: string[]) => (src: string, out: string) => {
  const args = [...flags, '-quiet', '-input-charset', 'utf-8', '-o', out, src];
  execFileSync(tool, tool === 'xorriso' ? ['-as', 'mkisofs', ...args] : args, quiet);
};

const VARIANTS: Variant[] = [
  { name: 'xorriso rock ridge', build: mkisofs('xorriso', ['-R']), names: 'rockridge' },
  { name: 'xorriso rock ridge + joliet', build: mkisofs('xorriso', ['-R', '-J', '-joliet-long']), names: 'rockridge', alsoJoliet: true },
  { name: 'xorriso joliet only', build: xorrisoNative(['-rockridge', 'off', '-joliet', 'on']), names: 'joliet' },
  { name: 'xorriso plain iso9660', build: xorrisoNative(['-rockridge', 'off', '-joliet', 'off']), names: 'iso' },
  { name: 'genisoimage rock ridge (deep directories relocated)', build: mkisofs('genisoimage', ['-r']), names: 'rockridge' },
  { name: 'genisoimage rock ridge + joliet', build: mkisofs('genisoimage', ['-R', '-J']), names: 'rockridge', alsoJoliet: true },
  { name: 'genisoimage joliet only', build: mkisofs('genisoimage', ['-J', '-D']), names: 'joliet' },
  { name: 'genisoimage plain iso9660', build: mkisofs('genisoimage', ['-D']), names: 'iso' },
];

/** Joliet keeps at most 64 UCS-2 characters per name (more with -joliet-long, which genisoimage truncates). */
const jolietSafe = (path: string) => path.split('/').every((c) => c.length <= 64);

const run = promisify(execFile);
const skip = skipUnlessRoot('needs root (installs xorriso and genisoimage)');

describe('ISOs built by real tools read back byte for byte', { skip }, () => {
  let work: string;
  let src: string;
  let expected: Map<string, Expected>;
  const sources: ByteSource[] = [];

  before(() => {
    ensurePackages(['xorriso', 'genisoimage', 'wget', 'curl']);
    work = mkdtempSync(join(tmpdir(), 'kickstand-isos-system-'));
    src = join(work, 'src');
    expected = writeTree(src);
  });
  after(async () => {
    for (const s of sources) await s.close?.();
    rmSync(work, { recursive: true, force: true });
  });

  /** Opens an image built in this run (optionally forcing a tree); closed after the suite. */
  async function open(path: string, force?: 'joliet') {
    const image = await fileSource(path);
    sources.push(image);
    return openIso(image, force ? { names: force } : {});
  }

  for (const v of VARIANTS) {
    test(`${v.name}: every file reads back with the same checksum`, { timeout: 120_000 }, async () => {
      const out = join(work, `${v.name.replace(/\W+/g, '-')}.iso`);
      v.build(src, out);
      const reader = await open(out);
      assert.equal(reader.volume.names, v.names);
      assert.deepEqual(await contentSums(reader), expectedSums(expected), 'the same file contents, whatever the names');
      if (v.names === 'rockridge') {
        assert.deepEqual(await compareTree(reader, expected, { links: true }), []);
      } else if (v.names === 'joliet') {
        assert.deepEqual(await compareTree(reader, expected, { links: false, keep: jolietSafe }), []);
      } else {
        const e = (await reader.stat('isolinux/vmlinuz'))!;
        assert.equal(e.size, 300_001, 'plain names still look up case-insensitively');
      }
      if (v.alsoJoliet) {
        const joliet = await open(out, 'joliet');
        assert.equal(joliet.volume.names, 'joliet');
        assert.deepEqual(await compareTree(joliet, expected, { links: false, keep: jolietSafe }), []);
      }
    });
  }

  test('a served tree mirrors with wget -r through the listings, and curl follows the directory redirect', { timeout: 120_000 }, async () => {
    const isos = join(work, 'isos');
    mkdirSync(isos);
    mkisofs('xorriso', ['-R', '-J'])(src, join(isos, 'CentOS-4.4-i386-binDVD.iso'));
    const catalog = new IsoCatalog({ dir: isos, log: silentLogger(), now: () => Date.now() + 3_600_000 });
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
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/trees/centos-4.4-i386`;
      const mirror = join(work, 'mirror');
      // Asynchronously: the server answering wget runs in this process.
      await run('wget', ['-q', '-r', '-l', 'inf', '-np', '-nH', '--cut-dirs=2', '-R', 'index.html*', '-e', 'robots=off', '-P', mirror, `${base}/`]);
      const got = scanTree(mirror);
      const missing = [...expected].filter(([p, e]) => e.kind === 'file' && (got.get(p) as { sha256?: string } | undefined)?.sha256 !== e.sha256);
      assert.deepEqual(missing.map(([p]) => p), [], 'every source file arrives with the same content');
      const { stdout: redirected } = await run('curl', ['-sfL', `${base}/isolinux`]);
      assert.match(redirected, /href="vmlinuz"/);
    } finally {
      server.close();
      await catalog.close();
    }
  });
});
