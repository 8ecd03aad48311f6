// The one shape every file-like thing takes on its way to a client: TFTP transfers, HTTP install
// trees and generated artifacts all read through it, whether the bytes come from disk, an ISO or memory.
import { open, stat } from 'node:fs/promises';

/** A random-access, read-only run of bytes with a known size. */
export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Last modification time, when known (HTTP Last-Modified, ETag). */
  readonly mtime?: Date;
  /** Names the bytes: two sources with the same id hold the same bytes (lets readers share a cache); absent when unknown. */
  readonly id?: string;
  /** Returns up to `length` bytes starting at `offset` (fewer only at the end). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Releases anything held open; optional. */
  close?(): Promise<void>;
}

/** Returns a ByteSource over an in-memory buffer. */
export function bufferSource(buf: Buffer, mtime?: Date): ByteSource {
  return {
    size: buf.length,
    mtime,
    read: async (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
  };
}

/** Returns a ByteSource over a file on disk, holding one descriptor until close(). */
export async function fileSource(path: string): Promise<ByteSource> {
  const st = await stat(path);
  const fh = await open(path, 'r');
  return {
    size: st.size,
    mtime: st.mtime,
    id: `file:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`,
    async read(offset, length) {
      const want = Math.max(0, Math.min(length, st.size - offset));
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === want ? buf : buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}
