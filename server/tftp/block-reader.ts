// DATA packets by block number for the transfers of one thread. Chunks come from the thread that
// owns the sources (ChunkProducer) and are held here while any transfer still needs one: transfers
// of the same file on this thread share each chunk, and a block is sent as a subarray, never copied.
import { chunkOf, type Chunk } from './chunk.ts';

/** A chunk held on this thread, with the packet views built so far and how many readers hold it. */
interface Held {
  key: string;
  chunk: Chunk;
  views: Array<Buffer | undefined>;
  refs: number;
}

/** Asks the owning thread for a chunk of a transfer. */
export type ChunkRequest = (transferId: number, index: number) => Promise<Chunk>;

/** The chunks this thread holds, shared by key among its transfers. */
export class ChunkShelf {
  private readonly held = new Map<string, Held>();
  private readonly waiting = new Map<string, Promise<Held>>();

  constructor(private readonly request: ChunkRequest) {}

  /** Returns the chunk, held once more; fetched from the owner unless another transfer here holds or awaits it. */
  acquire(key: string, transferId: number, index: number): Promise<Held> {
    const h = this.held.get(key);
    if (h) {
      h.refs++;
      return Promise.resolve(h);
    }
    let w = this.waiting.get(key);
    if (!w) {
      w = this.request(transferId, index).then(
        (chunk) => {
          this.waiting.delete(key);
          const got: Held = { key, chunk, views: new Array(chunk.count), refs: 0 };
          this.held.set(key, got);
          return got;
        },
        (err: unknown) => {
          this.waiting.delete(key);
          throw err;
        },
      );
      this.waiting.set(key, w);
    }
    return w.then((got) => {
      got.refs++;
      return got;
    });
  }

  /** Lets go of a chunk; the last holder's release drops it from this thread. */
  release(h: Held): void {
    if (--h.refs <= 0 && this.held.get(h.key) === h) this.held.delete(h.key);
  }

  /** Chunks held now (tests). */
  get size(): number {
    return this.held.size;
  }
}

/** Serves one transfer's DATA packets by absolute block number, fetching a chunk ahead of the sender. */
export class BlockReader {
  /** Absolute number of the final (short) block; Infinity until the chunk holding it arrives. */
  lastBlock: number;
  /** The read failure, once one happened; no more chunks load after it. */
  error: Error | null = null;

  /** Held chunks by index, oldest first (at most a window's worth plus one ahead). */
  private readonly chunks: Array<{ index: number; h: Held }> = [];
  private loading: Promise<void> | null = null;
  private nextIndex = 0;
  private readonly stride: number;
  private closed = false;

  /**
   * @param shareKey key prefix shared with transfers of the same bytes, or null for private chunks
   * @param lastBlock the last block when known up front, else null
   */
  constructor(
    private readonly shelf: ChunkShelf,
    private readonly transferId: number,
    private readonly shareKey: string | null,
    blksize: number,
    private readonly chunkBlocks: number,
    lastBlock: number | null,
  ) {
    this.stride = blksize + 4;
    this.lastBlock = lastBlock ?? Infinity;
  }

  /** Returns the DATA packet for an absolute block number, or undefined while it is not loaded. */
  packet(abs: number): Buffer | undefined {
    const index = chunkOf(abs, this.chunkBlocks);
    const chunks = this.chunks;
    for (let i = chunks.length - 1; i >= 0; i--) {
      const c = chunks[i]!;
      if (c.index !== index) continue;
      // Sending from the newest chunk: fetch the next one now.
      if (i === chunks.length - 1) this.prefetch();
      const within = abs - index * this.chunkBlocks - 1;
      const h = c.h;
      let view = h.views[within];
      if (view === undefined) {
        const p = h.chunk.packets;
        const start = within * this.stride;
        view = Buffer.from(p.buffer, p.byteOffset + start, Math.min(p.length - start, this.stride));
        h.views[within] = view;
      }
      return view;
    }
    this.prefetch();
    return undefined;
  }

  /** Returns a promise settled when the pending fetch (if any) is done; check `error` after it. */
  ready(): Promise<void> {
    return this.loading ?? Promise.resolve();
  }

  /** Lets go of chunks whose blocks are all acknowledged (every block up to `acked`). */
  release(acked: number): void {
    const cb = this.chunkBlocks;
    while (this.chunks.length > 0 && (this.chunks[0]!.index + 1) * cb <= acked) this.shelf.release(this.chunks.shift()!.h);
  }

  /** Lets go of everything (the transfer ended). */
  close(): void {
    this.closed = true;
    for (const c of this.chunks.splice(0)) this.shelf.release(c.h);
  }

  private prefetch(): void {
    if (this.loading || this.error || this.closed) return;
    const index = this.nextIndex;
    if (index * this.chunkBlocks + 1 > this.lastBlock) return;
    const key = this.shareKey === null ? `#${this.transferId}|${index}` : `${this.shareKey}|${index}`;
    this.loading = this.shelf
      .acquire(key, this.transferId, index)
      .then(
        (h) => {
          if (this.closed) return this.shelf.release(h);
          this.chunks.push({ index, h });
          this.nextIndex = index + 1;
          if (h.chunk.final) this.lastBlock = index * this.chunkBlocks + h.chunk.count;
        },
        (err: unknown) => {
          this.error = err instanceof Error ? err : new Error(String(err));
        },
      )
      .finally(() => {
        this.loading = null;
      });
  }
}
