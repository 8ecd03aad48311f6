// Test files for the figures: random bytes written in chunks (never held whole in memory), their
// sha256, and hashing a child's stdout or a file as a stream.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

const CHUNK = 4 * 1024 * 1024;

/** Writes size random bytes to path and returns their sha256 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path, { mode: 0o644 });
  for (let left = size; left > 0; left -= CHUNK) {
    const chunk = randomBytes(Math.min(CHUNK, left));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

/** Returns the sha256 (hex) and byte count of everything a stream yields. */
export async function hashStream(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Returns the sha256 (hex) and size of a file, or of the bytes [start, end) of it. */
export function hashFile(path: string, start?: number, end?: number): Promise<{ sha256: string; bytes: number }> {
  const opts = start === undefined ? {} : { start, end: end === undefined ? undefined : end - 1 };
  return hashStream(createReadStream(path, { ...opts, highWaterMark: 1024 * 1024 }));
}
