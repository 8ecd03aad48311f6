// The shared read-ahead cache, kept by the thread that owns the sources: chunks of DATA packets by
// (file identity, blksize, chunk size, index). A boot storm is hundreds of machines fetching the
// same kernel and initrd, so one read serves them all and memory stays flat however many run.
// Files read for one transfer only (generated menus, netascii) never enter it.
import type { ByteSource } from '../byte-source.ts';
import { layoutChunk, lastBlockFor, type Chunk } from './chunk.ts';
import type { SequentialRead } from './netascii.ts';

/** How long a chunk nobody asked for stays before a new one may take its room. */
export const CHUNK_IDLE_MS = 30_000;

/**
 * Keeps chunks by key up to a byte budget and loads each key once at a time. When full, a new
 * chunk takes the room of chunks idle for idleMs, oldest first, or is not kept: a working set
 * larger than the budget then reads past the cache instead of evicting every chunk just before
 * its reuse (what plain LRU does to a sequential scan), and memory never churns.
 */
export class ChunkCache {
  private readonly entries = new Map<string, { chunk: Chunk; used: number }>();
  private readonly loading = new Map<string, Promise<Chunk>>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly idleMs = CHUNK_IDLE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Returns the cached chunk for key, else loads it once however many ask at the same time. */
  get(key: string, load: () => Promise<Chunk>): Promise<Chunk> {
    const hit = this.entries.get(key);
    if (hit) {
      // Map order is least recently used first.
      hit.used = this.now();
      this.entries.delete(key);
      this.entries.set(key, hit);
      return Promise.resolve(hit.chunk);
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    const p = load().then(
      (chunk) => {
        this.loading.delete(key);
        this.put(key, chunk);
        return chunk;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, p);
    return p;
  }

  /** Bytes held now (tests, metrics). */
  get size(): number {
    return this.bytes;
  }

  private put(key: string, chunk: Chunk): void {
    const n = chunk.packets.length;
    const t = this.now();
    for (const [k, e] of this.entries) {
      if (this.bytes + n <= this.maxBytes || t - e.used < this.idleMs) break;
      this.entries.delete(k);
      this.bytes -= e.chunk.packets.length;
    }
    if (this.bytes + n > this.maxBytes) return;
    this.entries.set(key, { chunk, used: t });
    this.bytes += n;
  }
}

/** One transfer's chunks on the owning thread: reads its source, through the cache when the source has an id. */
export class ChunkProducer {
  /** Absolute number of the last block when the size is known up front (octet mode), else null. */
  readonly lastBlock: number | null;
  private readonly key: string | null;
  private nextSequential = 0;
  private inFlight = 0;
  private idle: (() => void) | null = null;

  /**
   * @param source the handler's answer
   * @param sequential netascii (or any size-changing) reader, or null to read octets at offsets
   */
  constructor(
    private readonly source: ByteSource,
    private readonly sequential: SequentialRead | null,
    private readonly blksize: number,
    private readonly chunkBlocks: number,
    private readonly cache: ChunkCache | null,
  ) {
    const sized = sequential === null && Number.isSafeInteger(source.size) && source.size >= 0;
    this.lastBlock = sized ? lastBlockFor(source.size, blksize) : null;
    this.key = sized && source.id && cache ? `${source.id}|${blksize}|${chunkBlocks}` : null;
  }

  /** Key prefix the transfer's chunks share with other transfers of the same bytes (null: private). */
  get shareKey(): string | null {
    return this.key;
  }

  /** Returns chunk `index`; a sequential producer must be asked in order. */
  chunk(index: number): Promise<Chunk> {
    this.inFlight++;
    const p = this.key && this.cache ? this.cache.get(`${this.key}|${index}`, () => this.readAt(index)) : this.sequential ? this.readNext(index) : this.readAt(index);
    return p.finally(() => {
      if (--this.inFlight === 0) this.idle?.();
    });
  }

  /** Resolves once no read is in progress (so the source can be closed under none). */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  private async readAt(index: number): Promise<Chunk> {
    const { blksize, chunkBlocks } = this;
    const last = this.lastBlock!;
    const first = index * chunkBlocks + 1;
    if (first > last) throw new RangeError(`chunk ${index} starts past the last block ${last}`);
    const final = first + chunkBlocks > last;
    const offset = (first - 1) * blksize;
    const want = final ? this.source.size - offset : chunkBlocks * blksize;
    const data = await readFully(this.source, offset, want);
    if (data.length !== want) throw new Error(`read ${data.length} of ${want} bytes at ${offset}: the file changed size`);
    return layoutChunk(data, index, blksize, chunkBlocks, final, this.key ? `${this.key}|${index}` : null);
  }

  private async readNext(index: number): Promise<Chunk> {
    if (index !== this.nextSequential) throw new RangeError(`chunk ${index} asked out of order (next is ${this.nextSequential})`);
    this.nextSequential++;
    const want = this.chunkBlocks * this.blksize;
    const data = await this.sequential!(want);
    return layoutChunk(data, index, this.blksize, this.chunkBlocks, data.length < want, null);
  }
}

/** Returns `length` bytes at `offset`, joining short reads; fewer only when the source ends. */
async function readFully(source: ByteSource, offset: number, length: number): Promise<Buffer> {
  const first = await source.read(offset, length);
  if (first.length >= length || first.length === 0) return first.subarray(0, length);
  const parts = [first];
  let got = first.length;
  while (got < length) {
    const b = await source.read(offset + got, length - got);
    if (b.length === 0) break;
    parts.push(b);
    got += b.length;
  }
  return Buffer.concat(parts, got);
}
