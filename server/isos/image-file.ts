// An ISO image file on disk as an IsoImage: one descriptor held open, reads either into fresh
// buffers (ByteSource.read) or into the caller's own (readInto), so a stream can reuse two buffers
// for a whole transfer instead of leaving garbage behind every chunk.
import { open } from 'node:fs/promises';
import type { ReadIntoFn, ReadIntoSource } from './types.ts';

/** Returns the image file at `path` opened read-only; close() releases its descriptor. */
export async function openImageFile(path: string): Promise<ReadIntoSource> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const size = st.size;
    const readInto: ReadIntoFn = async (target, offset) => {
      const want = Math.max(0, Math.min(target.length, size - offset));
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(target, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got;
    };
    return {
      size,
      mtime: st.mtime,
      readInto,
      async read(offset, length) {
        const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, size - offset)));
        const got = await readInto(buf, offset);
        return got === buf.length ? buf : buf.subarray(0, got);
      },
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}
