// The ISO9660 reader: opens an image through an injected read(offset, length), picks the tree to
// present (Rock Ridge, else Joliet, else plain ISO names), resolves paths with symlinks, lists
// directories through a small LRU, and hands out files as ByteSources over their extents.
import { IsoError } from '../errors.ts';
import { checkExtent, readExact } from './codec.ts';
import { readBootCatalog } from './el-torito.ts';
import { extentSource } from './extent-source.ts';
import { Lru } from './lru.ts';
import { parseRecord, readDirectory, type DirListing, type RawRecord } from './records.ts';
import { parseSystemUse } from './susp.ts';
import {
  DEFAULT_DIR_CACHE,
  DEFAULT_MAX_CONTINUATIONS,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_DIR_BYTES,
  DEFAULT_MAX_DIR_ENTRIES,
  DEFAULT_MAX_SYMLINK_HOPS,
  type BootCatalog,
  type IsoContext,
  type IsoEntry,
  type IsoImage,
  type IsoReaderOptions,
  type NameSource,
  type ReadIntoSource,
  type VolumeInfo,
} from './types.ts';
import { readDescriptors, SECTOR, type Descriptors } from './volume.ts';

/** Largest file readFile() returns whole (detection reads .treeinfo and .discinfo with it). */
export const DEFAULT_MAX_READ_FILE = 1024 * 1024;

/** Returns a reader over `image`, or throws IsoError when the image is not a usable ISO9660 volume. */
export async function openIso(image: IsoImage, options: IsoReaderOptions = {}): Promise<IsoReader> {
  const d = await readDescriptors(image);
  const bs = d.primary.blockSize;
  const maxContinuations = options.maxContinuations ?? DEFAULT_MAX_CONTINUATIONS;
  const primaryRoot = rootEntry(d.primary.root, bs, image.size, 16 * SECTOR + 156);
  const rr = await rockRidgeAt(image, bs, maxContinuations, primaryRoot);
  const wanted = options.names ?? 'auto';
  let names: NameSource;
  if (wanted === 'auto') names = rr.present ? 'rockridge' : d.jolietRoot ? 'joliet' : 'iso';
  else names = wanted;
  if (names === 'rockridge' && !rr.present) throw new IsoError('iso: no rock ridge extensions in this image');
  if (names === 'joliet' && !d.jolietRoot) throw new IsoError('iso: no joliet volume descriptor in this image');
  const root = names === 'joliet' ? rootEntry(d.jolietRoot!, bs, image.size, 0) : primaryRoot;
  const ctx: IsoContext = {
    image,
    blockSize: bs,
    names,
    suspSkip: names === 'rockridge' ? rr.skip : 0,
    maxDirBytes: options.maxDirBytes ?? DEFAULT_MAX_DIR_BYTES,
    maxDirEntries: options.maxDirEntries ?? DEFAULT_MAX_DIR_ENTRIES,
    maxContinuations,
  };
  return new IsoReader(ctx, root, volumeInfo(d, rr.present, names), d.bootCatalogBlock, options);
}

/** A read-only view of one ISO9660 image; paths are "/"-separated and relative to its root. */
export class IsoReader {
  /** The image's identity and which tree is presented. */
  readonly volume: VolumeInfo;
  readonly #ctx: IsoContext;
  readonly #root: IsoEntry;
  readonly #cache: Lru<number, Promise<DirListing>>;
  readonly #bootBlock?: number;
  readonly #maxDepth: number;
  readonly #maxHops: number;

  /** Use openIso(); the constructor takes what it found. */
  constructor(ctx: IsoContext, root: IsoEntry, volume: VolumeInfo, bootBlock: number | undefined, options: IsoReaderOptions) {
    this.#ctx = ctx;
    this.#root = root;
    this.volume = volume;
    this.#bootBlock = bootBlock;
    this.#cache = new Lru(options.dirCacheSize ?? DEFAULT_DIR_CACHE);
    this.#maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#maxHops = options.maxSymlinkHops ?? DEFAULT_MAX_SYMLINK_HOPS;
  }

  /** Returns the entry at `path` (following symlinks unless `follow` is false), or null when absent. */
  async stat(path: string, follow = true): Promise<IsoEntry | null> {
    return (await this.#resolve(path, follow))?.entry ?? null;
  }

  /** Returns the entries of the directory at `path`, or null when it is absent or not a directory. */
  async listDir(path: string): Promise<IsoEntry[] | null> {
    const found = await this.#resolve(path, true);
    if (!found || found.entry.type !== 'dir') return null;
    return [...(await this.#listing(found.entry, found.path)).entries];
  }

  /** Returns the file at `path` as a ByteSource (with readInto), or null when it is absent or not a regular file. */
  async openFile(path: string): Promise<ReadIntoSource | null> {
    const found = await this.#resolve(path, true);
    if (!found || found.entry.type !== 'file') return null;
    return extentSource(this.#ctx.image, found.entry, found.path);
  }

  /** Returns a ByteSource over a file entry already looked up. */
  openEntry(entry: IsoEntry, path = entry.name): ReadIntoSource {
    return extentSource(this.#ctx.image, entry, path);
  }

  /** Returns a whole small file, null when absent; throws IsoError past `maxBytes`. */
  async readFile(path: string, maxBytes = DEFAULT_MAX_READ_FILE): Promise<Buffer | null> {
    const src = await this.openFile(path);
    if (!src) return null;
    if (src.size > maxBytes) throw new IsoError(`iso: '${path}' is ${src.size} bytes, more than the ${maxBytes} read whole`);
    return src.read(0, src.size);
  }

  /** Yields every entry below `path` depth first (symlinks not followed); throws IsoError on a loop. */
  async *walk(path = '/'): AsyncGenerator<{ path: string; entry: IsoEntry }> {
    const start = await this.#resolve(path, true);
    if (!start || start.entry.type !== 'dir') return;
    const seen = new Set<number>([dirKey(start.entry)]);
    const todo: Array<{ dir: IsoEntry; path: string; depth: number }> = [{ dir: start.entry, path: start.path, depth: 0 }];
    while (todo.length > 0) {
      const { dir, path: dirPath, depth } = todo.pop()!;
      const listing = await this.#listing(dir, dirPath);
      const subdirs: typeof todo = [];
      for (const entry of listing.entries) {
        const p = `${dirPath === '/' ? '' : dirPath}/${entry.name}`;
        yield { path: p, entry };
        if (entry.type !== 'dir') continue;
        if (seen.has(dirKey(entry))) throw new IsoError(`iso: '${p}': directory loop (its extent was already visited)`);
        if (depth + 1 > this.#maxDepth) throw new IsoError(`iso: '${p}': directories nested deeper than ${this.#maxDepth}`);
        seen.add(dirKey(entry));
        subdirs.push({ dir: entry, path: p, depth: depth + 1 });
      }
      todo.push(...subdirs.reverse());
    }
  }

  /** Returns the El Torito boot catalog, or null when the image is not bootable. */
  async bootCatalog(): Promise<BootCatalog | null> {
    if (this.#bootBlock === undefined) return null;
    return readBootCatalog(this.#ctx.image, this.#bootBlock);
  }

  /** Returns the entry and canonical path `path` leads to, or null when a component is missing. */
  async #resolve(path: string, follow: boolean): Promise<{ entry: IsoEntry; path: string } | null> {
    let stack: IsoEntry[] = [this.#root];
    let names: string[] = [''];
    const queue = components(path);
    let hops = 0;
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (name === '..') {
        if (stack.length > 1) (stack.pop(), names.pop());
        continue;
      }
      const dir = stack[stack.length - 1]!;
      if (dir.type !== 'dir') return null;
      const listing = await this.#listing(dir, names.join('/') || '/');
      const child = listing.byName.get(name) ?? listing.byFoldedName?.get(name.toLowerCase());
      if (!child) return null;
      if (child.type === 'symlink' && (follow || queue.length > 0)) {
        if (++hops > this.#maxHops) throw new IsoError(`iso: '${path}': more than ${this.#maxHops} symbolic links (loop?)`);
        if (child.target!.startsWith('/')) {
          stack = [this.#root];
          names = [''];
        }
        queue.unshift(...components(child.target!));
        continue;
      }
      if (child.type === 'dir') {
        const at = stack.findIndex((d) => dirKey(d) === dirKey(child));
        if (at >= 0) {
          throw new IsoError(`iso: '${[...names, name].join('/')}': directory loop back to '${names.slice(0, at + 1).join('/') || '/'}'`);
        }
        if (stack.length > this.#maxDepth) throw new IsoError(`iso: '${path}': directories nested deeper than ${this.#maxDepth}`);
      }
      stack.push(child);
      names.push(child.name);
    }
    return { entry: stack[stack.length - 1]!, path: names.join('/') || '/' };
  }

  /** Returns the parsed listing of `dir`, from the cache when hot. */
  #listing(dir: IsoEntry, where: string): Promise<DirListing> {
    const key = dirKey(dir);
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const extent = dir.extents[0] ?? { start: key, length: 0 };
    const p = readDirectory(this.#ctx, extent, where);
    this.#cache.set(key, p);
    p.catch(() => this.#cache.delete(key));
    return p;
  }
}

/** Returns the path components of `path`, without empty and "." ones. */
function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** Returns the cache and loop-detection key of a directory: where its records start. */
function dirKey(dir: IsoEntry): number {
  return dir.extents[0]?.start ?? -1;
}

/** Returns a root directory entry built from a descriptor's root record. */
function rootEntry(rec: RawRecord, bs: number, imageSize: number, recordOffset: number): IsoEntry {
  const start = (rec.block + rec.earLength) * bs;
  checkExtent(start, rec.dataLength, imageSize, "root directory '/'");
  return { name: '', type: 'dir', size: rec.dataLength, mtime: rec.date, extents: [{ start, length: rec.dataLength }], hidden: false, recordOffset };
}

/** Returns whether the root's "." record announces Rock Ridge (SUSP SP plus ER or RRIP entries), and SP's skip. */
async function rockRidgeAt(image: IsoImage, bs: number, maxContinuations: number, root: IsoEntry): Promise<{ present: boolean; skip: number }> {
  const extent = root.extents[0]!;
  const first = await readExact(image, extent.start, Math.min(bs, extent.length), "root directory '/'");
  if (first.length < 34) throw new IsoError(`iso: root directory '/' is ${first.length} bytes, too short for its "." record`);
  const dot = parseRecord(first, 0, first.length, '/');
  const su = await parseSystemUse(image, bs, maxContinuations, dot.systemUse, "root directory '/'");
  const announced = su.extensions.some((id) => /^(RRIP_1991A|IEEE_P1282|IEEE_1282)/.test(id));
  return { present: su.spSkip !== undefined && (announced || su.rockRidge), skip: su.spSkip ?? 0 };
}

/** Returns the public volume summary. */
function volumeInfo(d: Descriptors, rockRidge: boolean, names: NameSource): VolumeInfo {
  const p = d.primary;
  return {
    systemId: p.systemId,
    volumeId: p.volumeId,
    volumeSetId: p.volumeSetId,
    publisherId: p.publisherId,
    preparerId: p.preparerId,
    applicationId: p.applicationId,
    created: p.created,
    modified: p.modified,
    blockSize: p.blockSize,
    blocks: p.blocks,
    rockRidge,
    joliet: d.jolietRoot !== undefined,
    names,
    elTorito: d.bootCatalogBlock !== undefined,
  };
}
