// Read-ahead for one transfer: the file is read in large sequential chunks, each laid out at once
// as ready-to-send DATA packets (RFC 1350 section 5: opcode 3, block number, data), so sending a
// block is one subarray and no copy. Chunks stay until every block in them is acknowledged, which
// is what retransmission after a loss reads from.
import { OP } from './packet.ts';
import type { SequentialRead } from './netascii.ts';

interface Chunk {
  /** Absolute number (1-based, not wrapped) of the chunk's first block. */
  first: number;
  count: number;
  /** `count` DATA packets back to back; each is blksize + 4 bytes except a short last one. */
  packets: Buffer;
}

/** Serves DATA packets by absolute block number, reading ahead of the sender. */
export class BlockReader {
  /** Absolute number of the final (short) block; Infinity until the end of the file is seen. */
  lastBlock = Infinity;
  /** The read failure, once one happened; no more chunks load after it. */
  error: Error | null = null;

  private readonly chunks: Chunk[] = [];
  private nextFirst = 1;
  private loading: Promise<void> | null = null;
  private readonly stride: number;

  constructor(
    private readonly read: SequentialRead,
    private readonly blksize: number,
    private readonly chunkBlocks: number,
  ) {
    this.stride = blksize + 4;
  }

  /** Returns the DATA packet for an absolute block number, or undefined while it is not loaded. */
  packet(abs: number): Buffer | undefined {
    const chunks = this.chunks;
    for (let i = chunks.length - 1; i >= 0; i--) {
      const c = chunks[i];
      if (abs < c.first) continue;
      if (abs >= c.first + c.count) break;
      // Sending from the newest chunk: start reading the next one now.
      if (i === chunks.length - 1) this.prefetch();
      const start = (abs - c.first) * this.stride;
      return c.packets.subarray(start, Math.min(c.packets.length, start + this.stride));
    }
    this.prefetch();
    return undefined;
  }

  /** Returns a promise settled when the pending read (if any) is done; check `error` after it. */
  ready(): Promise<void> {
    return this.loading ?? Promise.resolve();
  }

  /** Drops chunks whose blocks are all acknowledged (every block up to `acked`). */
  release(acked: number): void {
    while (this.chunks.length > 0 && this.chunks[0].first + this.chunks[0].count - 1 <= acked) this.chunks.shift();
  }

  private prefetch(): void {
    if (this.loading || this.error || this.nextFirst > this.lastBlock) return;
    this.loading = this.load()
      .catch((err: unknown) => {
        this.error = err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        this.loading = null;
      });
  }

  private async load(): Promise<void> {
    const bs = this.blksize;
    const want = this.chunkBlocks * bs;
    const data = await this.read(want);
    const first = this.nextFirst;
    const full = data.length >= want;
    // A short read ends the file: its last block is shorter than blksize, possibly empty.
    const count = full ? this.chunkBlocks : Math.floor(data.length / bs) + 1;
    const packets = Buffer.allocUnsafe(Math.min(data.length, want) + 4 * count);
    for (let i = 0; i < count; i++) {
      const off = i * this.stride;
      const wire = (first + i) & 0xffff; // block numbers roll over to 0 after 65535
      packets[off] = 0;
      packets[off + 1] = OP.DATA;
      packets[off + 2] = wire >> 8;
      packets[off + 3] = wire & 0xff;
      data.copy(packets, off + 4, i * bs, Math.min((i + 1) * bs, data.length));
    }
    this.chunks.push({ first, count, packets });
    this.nextFirst = first + count;
    if (!full) this.lastBlock = first + count - 1;
  }
}
