// A chunk: a run of consecutive DATA packets (RFC 1350 section 5: opcode 3, block number, data)
// laid out back to back in shared memory, so any thread sends a block as one subarray with no
// copy, and transfers of the same file share one copy of its bytes.
import { OP } from './packet.ts';

/** `count` DATA packets for blocks first..first+count-1; each is blksize + 4 bytes except a short last one. */
export interface Chunk {
  /** Cache key (same key, same bytes), or null for a chunk private to one transfer. */
  key: string | null;
  packets: Uint8Array;
  count: number;
  /** The chunk holds the file's last block. */
  final: boolean;
}

/** Returns the index of the chunk holding an absolute (1-based, unwrapped) block number. */
export function chunkOf(abs: number, chunkBlocks: number): number {
  return Math.floor((abs - 1) / chunkBlocks);
}

/** Returns the absolute number of a file's last block: the first one shorter than blksize, possibly empty. */
export function lastBlockFor(size: number, blksize: number): number {
  return Math.floor(size / blksize) + 1;
}

/**
 * Returns the packets for chunk `index` made from its raw bytes. `final` says the chunk holds the
 * last block: it is then shorter than a full chunk (a file ending on a chunk boundary ends with a
 * chunk of one empty block).
 */
export function layoutChunk(data: Uint8Array, index: number, blksize: number, chunkBlocks: number, final: boolean, key: string | null): Chunk {
  const full = chunkBlocks * blksize;
  if (data.length > full) throw new RangeError(`chunk ${index}: ${data.length} bytes is more than ${chunkBlocks} blocks of ${blksize}`);
  if (!final && data.length < full) throw new RangeError(`chunk ${index}: short (${data.length} of ${full} bytes) but not the last`);
  const count = final ? Math.floor(data.length / blksize) + 1 : chunkBlocks;
  // A final chunk of chunkBlocks full blocks cannot be: its empty last block is the next chunk's.
  if (count > chunkBlocks) throw new RangeError(`chunk ${index}: full, so it cannot hold the last block`);
  const packets = new Uint8Array(new SharedArrayBuffer(data.length + 4 * count));
  const stride = blksize + 4;
  const first = index * chunkBlocks + 1;
  for (let i = 0; i < count; i++) {
    const off = i * stride;
    const wire = (first + i) & 0xffff; // block numbers roll over to 0 after 65535
    packets[off] = 0;
    packets[off + 1] = OP.DATA;
    packets[off + 2] = wire >> 8;
    packets[off + 3] = wire & 0xff;
    packets.set(data.subarray(i * blksize, Math.min((i + 1) * blksize, data.length)), off + 4);
  }
  return { key, packets, count, final };
}
