// Loads the committed ISO fixtures (test/fixtures/isos, built by make-fixtures.sh) and their
// manifests of what went into each image.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { bufferSource, type ByteSource } from '../../server/byte-source.ts';

export const FIXTURE_DIR = new URL('../fixtures/isos/', import.meta.url).pathname;

/** One line of a manifest: a directory, a file with its size and sha256, or a symlink. */
export type ManifestEntry =
  | { kind: 'd'; path: string }
  | { kind: 'f'; path: string; size: number; sha256: string }
  | { kind: 'l'; path: string; target: string };

/** Returns the uncompressed bytes of fixture `name` (a fresh copy each call, safe to corrupt). */
export function fixtureBytes(name: string): Buffer {
  return gunzipSync(readFileSync(`${FIXTURE_DIR}${name}.iso.gz`));
}

/** Returns the manifest of fixture `name`. */
export function manifest(name: string): ManifestEntry[] {
  return readFileSync(`${FIXTURE_DIR}${name}.manifest`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [kind, path, a, b] = line.split('\t') as [string, string, string?, string?];
      if (kind === 'f') return { kind, path, size: Number(a), sha256: b! };
      if (kind === 'l') return { kind, path, target: a! };
      return { kind: 'd', path };
    });
}

/** Returns a ByteSource over `bytes` that counts the reads made through it. */
export function countingSource(bytes: Buffer): ByteSource & { reads: number } {
  const inner = bufferSource(bytes);
  const src = {
    size: inner.size,
    reads: 0,
    read(offset: number, length: number) {
      src.reads++;
      return inner.read(offset, length);
    },
  };
  return src;
}

/** Returns the sha256 of `buf` in hex. */
export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Returns the whole content of a ByteSource, read in chunks of `chunk` bytes. */
export async function readAll(src: ByteSource, chunk = 7919): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < src.size; off += chunk) parts.push(await src.read(off, chunk));
  return Buffer.concat(parts);
}
