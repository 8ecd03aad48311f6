import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource, type ByteSource } from '../../server/byte-source.ts';
import { BlockReader, ChunkShelf } from '../../server/tftp/block-reader.ts';
import { ChunkCache, ChunkProducer } from '../../server/tftp/chunk-cache.ts';
import { layoutChunk, type Chunk } from '../../server/tftp/chunk.ts';
import { netasciiReader } from '../../server/tftp/netascii.ts';

/** A source that counts its reads and names its bytes. */
function counted(data: Buffer, id?: string): ByteSource & { reads: number } {
  const s = { size: data.length, id, reads: 0, read: async (off: number, len: number) => (s.reads++, data.subarray(off, off + len)) };
  return s;
}

describe('tftp chunks', () => {
  test('layoutChunk numbers DATA packets from the chunk index and ends a short final chunk', () => {
    const last = layoutChunk(Buffer.from('ij'), 1, 4, 2, true, null); // chunk 1 holds blocks 3..4; 'ij' is block 3, the last
    assert.equal(last.count, 1);
    assert.deepEqual([...last.packets], [0, 3, 0, 3, ...Buffer.from('ij')]);
    const full = layoutChunk(Buffer.from('abcdefgh'), 0, 4, 2, false, null);
    assert.deepEqual([...full.packets], [0, 3, 0, 1, ...Buffer.from('abcd'), 0, 3, 0, 2, ...Buffer.from('efgh')]);
    const empty = layoutChunk(Buffer.alloc(0), 1, 4, 2, true, null); // a file of whole chunks ends with an empty block
    assert.deepEqual([...empty.packets], [0, 3, 0, 3]);
    assert.throws(() => layoutChunk(Buffer.alloc(8, 1), 0, 4, 2, true, null), /cannot hold the last block/);
  });

  test('transfers of the same bytes share one read per chunk; sources without an id read their own', async () => {
    const data = Buffer.alloc(10_000, 7);
    const cache = new ChunkCache(1 << 20);
    const a = counted(data, 'same');
    const b = counted(data, 'same');
    const pa = new ChunkProducer(a, null, 512, 4, cache);
    const pb = new ChunkProducer(b, null, 512, 4, cache);
    const [ca, cb] = await Promise.all([pa.chunk(0), pb.chunk(0)]);
    assert.equal(ca, cb);
    assert.equal(a.reads + b.reads, 1);
    const c = counted(data);
    const pc = new ChunkProducer(c, null, 512, 4, cache);
    assert.equal(pc.shareKey, null);
    await pc.chunk(0);
    assert.equal(c.reads, 1);
    assert.equal(pa.lastBlock, Math.floor(10_000 / 512) + 1);
  });

  test('a full cache keeps its chunks while they are in use and reads past it instead of thrashing; idle ones make room', async () => {
    let t = 0;
    const cache = new ChunkCache(2 * (4 * 516), 1000, () => t);
    const src = counted(Buffer.alloc(4 * 512 * 5, 1), 'f');
    const p = new ChunkProducer(src, null, 512, 4, cache);
    await p.chunk(0);
    await p.chunk(1);
    await p.chunk(2); // no room: read, not kept
    assert.equal(cache.size, 2 * 4 * 516);
    await p.chunk(0);
    assert.equal(src.reads, 3, 'chunk 0 stayed');
    t = 5000; // both idle now
    await p.chunk(3);
    await p.chunk(2);
    assert.equal(src.reads, 5);
    await p.chunk(3);
    assert.equal(src.reads, 5, 'chunk 3 took an idle chunk\'s room');
  });

  test('a netascii producer reads in order and finds the end', async () => {
    const text = Buffer.from('a\n'.repeat(10), 'latin1'); // 30 bytes in netascii
    const p = new ChunkProducer(bufferSource(text), netasciiReader(bufferSource(text)), 8, 2, new ChunkCache(1 << 20));
    assert.equal(p.lastBlock, null);
    assert.equal(p.shareKey, null);
    const c0 = await p.chunk(0);
    assert.equal(c0.final, false);
    const c1 = await p.chunk(1);
    assert.equal(c1.final, true);
    assert.equal(c1.count, 2); // blocks 3 (8 bytes) and 4 (6 bytes)
    await assert.rejects(() => p.chunk(5), /out of order/);
  });

  test('BlockReader serves packets by block, prefetches the next chunk and keeps a read error', async () => {
    const data = Buffer.from('abcdefghij'); // blksize 4: abcd efgh ij
    const producer = new ChunkProducer(bufferSource(data), null, 4, 2, null);
    const shelf = new ChunkShelf((_id, index) => producer.chunk(index));
    const r = new BlockReader(shelf, 1, null, 4, 2, producer.lastBlock);
    assert.equal(r.packet(1), undefined); // not loaded yet; the fetch starts
    await r.ready();
    assert.deepEqual([...r.packet(1)!], [0, 3, 0, 1, ...Buffer.from('abcd')]);
    await r.ready(); // prefetched while block 1 was served
    assert.deepEqual([...r.packet(3)!], [0, 3, 0, 3, ...Buffer.from('ij')]);
    assert.equal(r.lastBlock, 3);
    r.release(2);
    assert.equal(r.packet(1), undefined);
    r.close();
    assert.equal(shelf.size, 0, 'every chunk let go');

    const failing = new ChunkShelf(async (): Promise<Chunk> => {
      throw new Error('gone');
    });
    const e = new BlockReader(failing, 2, null, 512, 4, null);
    e.packet(1);
    await e.ready();
    assert.equal(e.error?.message, 'gone');
  });

  test('readers of the same chunk on one thread hold one copy', async () => {
    let asked = 0;
    const chunk = layoutChunk(Buffer.alloc(8, 2), 0, 4, 2, false, 'k|0');
    const shelf = new ChunkShelf(async () => (asked++, chunk));
    const a = new BlockReader(shelf, 1, 'k', 4, 2, 10);
    const b = new BlockReader(shelf, 2, 'k', 4, 2, 10);
    a.packet(1);
    b.packet(1);
    await Promise.all([a.ready(), b.ready()]);
    assert.equal(asked, 1);
    assert.equal(a.packet(2), b.packet(2), 'the same view');
  });
});
