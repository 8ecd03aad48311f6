// Source trees for the system tests that build ISOs with real tools: random files of awkward sizes,
// deep directories, long and non-ASCII names, symlinks and a distro's marker files; plus the
// helpers that compare an image against the tree it was built from.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, lstatSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { IsoReader } from '../../server/isos/reader.ts';
import { readAll, sha256 } from './fixtures.ts';

/** One thing in a source tree: a file's sha256 or a symlink's target. */
export type Expected = { kind: 'file'; sha256: string; size: number } | { kind: 'symlink'; target: string } | { kind: 'dir' };

export const DEEP_LEVELS = 14;
export const LONG_NAME = `${'n'.repeat(120)}-${'m'.repeat(80)}.txt`;

/** Writes the standard test tree under `root` and returns what it holds by relative path. */
export function writeTree(root: string): Map<string, Expected> {
  const put = (rel: string, data: Buffer | string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), data);
  };
  put('.discinfo', '1156107005.871843\nCentOS 4.4\ni386\n1,2,3,4\nCentOS/base\nCentOS/RPMS\n');
  put('isolinux/vmlinuz', randomBytes(300_001));
  put('isolinux/initrd.img', randomBytes(1_048_579));
  for (const n of [0, 1, 2047, 2048, 2049, 65_537]) put(`sizes/size-${n}.bin`, randomBytes(n));
  put(`names/${LONG_NAME}`, 'long\n');
  put('names/Mixed Case With Spaces.TXT', 'mixed\n');
  put('names/ünïcödé-файл.txt', 'unicode\n');
  for (let i = 0; i < 400; i++) put(`CentOS/RPMS/package-number-${i}-1.0-1.i386.rpm`, `rpm ${i}\n`);
  const deep = Array.from({ length: DEEP_LEVELS }, (_, i) => `level${i + 1}`).join('/');
  put(`deep/${deep}/leaf.txt`, 'bottom\n');
  mkdirSync(join(root, 'links'), { recursive: true });
  symlinkSync('../names/Mixed Case With Spaces.TXT', join(root, 'links/relative'));
  symlinkSync('/isolinux/vmlinuz', join(root, 'links/absolute'));
  symlinkSync('../deep', join(root, 'links/dir'));
  return scanTree(root);
}

/** Returns what a tree on disk holds by relative path. */
export function scanTree(root: string): Map<string, Expected> {
  const out = new Map<string, Expected>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = relative(root, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(rel, { kind: 'symlink', target: readlinkSync(p) });
      else if (st.isDirectory()) {
        out.set(rel, { kind: 'dir' });
        walk(p);
      } else out.set(rel, { kind: 'file', sha256: createHash('sha256').update(readFileSync(p)).digest('hex'), size: st.size });
    }
  };
  walk(root);
  return out;
}

/** Returns the problems found comparing the image's tree path by path with `expected` (symlinks included when `links`). */
export async function compareTree(reader: IsoReader, expected: Map<string, Expected>, options: { links: boolean; keep?: (path: string) => boolean }): Promise<string[]> {
  const problems: string[] = [];
  const keep = options.keep ?? (() => true);
  for (const [path, want] of expected) {
    if (!keep(path) || (want.kind === 'symlink' && !options.links)) continue;
    const got = await reader.stat(path, false);
    if (!got) problems.push(`missing ${path}`);
    else if (want.kind === 'symlink' && (got.type !== 'symlink' || got.target !== want.target)) problems.push(`${path}: ${got.type} -> ${got.target}`);
    else if (want.kind === 'dir' && got.type !== 'dir') problems.push(`${path}: ${got.type}, not a directory`);
    else if (want.kind === 'file') {
      const src = await reader.openFile(path);
      const sum = src ? sha256(await readAll(src, 65_536)) : 'none';
      if (sum !== want.sha256) problems.push(`${path}: content differs`);
    }
  }
  return problems;
}

/** Returns the sorted sha256 sums of every regular file in the image (names aside), boot catalogs left out. */
export async function contentSums(reader: IsoReader): Promise<string[]> {
  const sums: string[] = [];
  for await (const { path, entry } of reader.walk()) {
    if (entry.type !== 'file' || /boot\.cat$/i.test(path)) continue;
    sums.push(sha256(await readAll(reader.openEntry(entry, path), 65_536)));
  }
  return sums.sort();
}

/** Returns the sorted sha256 sums of the regular files in `expected`. */
export function expectedSums(expected: Map<string, Expected>): string[] {
  return [...expected.values()].flatMap((e) => (e.kind === 'file' ? [e.sha256] : [])).sort();
}
