// The isos folder as a catalog of distros: every stable *.iso is opened (one descriptor each),
// detected and kept under its distro name; fs.watch plus a periodic rescan add new images without a
// restart, drop removed ones, and skip malformed ones with the reason logged.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { byName } from '../order.ts';
import type { Logger } from '../log.ts';
import { detectDistro, slug, type DetectedDistro } from './detect.ts';
import { openImageFile } from './image-file.ts';
import { openIso, type IsoReader } from './reader.ts';
import { SettleTracker, stampKey, type FileStamp } from './settle.ts';
import type { IsoEntry, IsoReaderOptions, ReadIntoSource } from './types.ts';

export const DEFAULT_SETTLE_MS = 3000;
export const DEFAULT_RESCAN_MS = 30_000;
export const DEFAULT_DEBOUNCE_MS = 250;
/** How long a removed image stays open for transfers still reading it. */
export const DEFAULT_DRAIN_MS = 10 * 60_000;

/** One usable image: where it is, what it holds, and the reader over it. */
export interface CatalogEntry {
  /** Distro name (unique in the catalog), e.g. centos-4.4-i386. */
  readonly name: string;
  readonly isoPath: string;
  readonly fileName: string;
  readonly size: number;
  readonly mtime: Date;
  readonly distro: DetectedDistro;
  readonly reader: IsoReader;
  /** Short hash of path, size, mtime and inode: changes whenever the file does (for ETags). */
  readonly identity: string;
}

/** An image left out, and why. */
export interface SkippedIso {
  readonly isoPath: string;
  readonly reason: string;
  readonly distro?: DetectedDistro;
}

export interface IsoCatalogOptions {
  /** Folder scanned for *.iso files. */
  dir: string;
  log: Logger;
  /** Clock in milliseconds since the epoch; Date.now by default. */
  now?: () => number;
  settleMs?: number;
  rescanMs?: number;
  debounceMs?: number;
  drainMs?: number;
  reader?: IsoReaderOptions;
}

interface Loaded {
  entry: CatalogEntry;
  key: string;
  open: number;
  removed: boolean;
  /** Closes the image's descriptor once, however many callers ask. */
  release: () => Promise<void>;
}

/** Distros found in a folder of ISO images; emits 'added' (CatalogEntry), 'removed' (CatalogEntry), 'skipped' (SkippedIso). */
export class IsoCatalog extends EventEmitter {
  readonly #o: Required<Omit<IsoCatalogOptions, 'reader'>> & { reader: IsoReaderOptions };
  readonly #byPath = new Map<string, Loaded>();
  readonly #byName = new Map<string, Loaded>();
  readonly #skipped = new Map<string, SkippedIso & { key: string }>();
  readonly #settle: SettleTracker;
  #scanning: Promise<void> = Promise.resolve();
  #watcher?: FSWatcher;
  #interval?: NodeJS.Timeout;
  #pendingScan?: NodeJS.Timeout;
  #closed = false;

  constructor(options: IsoCatalogOptions) {
    super();
    this.#o = {
      now: Date.now,
      settleMs: DEFAULT_SETTLE_MS,
      rescanMs: DEFAULT_RESCAN_MS,
      debounceMs: DEFAULT_DEBOUNCE_MS,
      drainMs: DEFAULT_DRAIN_MS,
      reader: {},
      ...options,
    };
    this.#settle = new SettleTracker(this.#o.settleMs);
  }

  /** Returns every usable distro, sorted by name. */
  list(): CatalogEntry[] {
    return [...this.#byName.values()].map((l) => l.entry).sort(byName);
  }

  /** Returns the distro called `name`. */
  get(name: string): CatalogEntry | undefined {
    return this.#byName.get(name)?.entry;
  }

  /** Returns the distro read from the image file called `fileName` in the folder. */
  byFile(fileName: string): CatalogEntry | undefined {
    return this.#byPath.get(join(this.#o.dir, basename(fileName)))?.entry;
  }

  /** Returns the images left out (malformed, or no distro found), with reasons. */
  skipped(): SkippedIso[] {
    return [...this.#skipped.values()].map(({ isoPath, reason, distro }) => ({ isoPath, reason, distro }));
  }

  /** Returns the identity string of distro `name` (for ETags), undefined when unknown. */
  identity(name: string): string | undefined {
    return this.get(name)?.identity;
  }

  /** Returns the entry at `path` in distro `name`'s tree (symlinks followed), or null. */
  async stat(name: string, path: string): Promise<IsoEntry | null> {
    return (await this.get(name)?.reader.stat(path)) ?? null;
  }

  /** Returns the entries of a directory in distro `name`'s tree, or null. */
  async listDir(name: string, path: string): Promise<IsoEntry[] | null> {
    return (await this.get(name)?.reader.listDir(path)) ?? null;
  }

  /** Returns a file in distro `name`'s tree as a ByteSource with readInto (close it when done), or null. */
  async openFile(name: string, path: string): Promise<ReadIntoSource | null> {
    const loaded = this.#byName.get(name);
    const src = loaded ? await loaded.entry.reader.openFile(path) : null;
    if (!loaded || !src) return null;
    loaded.open++;
    let closed = false;
    return {
      size: src.size,
      mtime: src.mtime,
      id: `iso:${loaded.entry.identity}:${path}`,
      read: (offset, length) => src.read(offset, length),
      readInto: (target, offset) => src.readInto(target, offset),
      close: async () => {
        if (closed) return;
        closed = true;
        loaded.open--;
        if (loaded.removed && loaded.open === 0) await loaded.release();
      },
    };
  }

  /** Scans the folder once: opens stable new or changed images, drops removed ones. */
  scan(): Promise<void> {
    const next = this.#scanning.then(() => this.#scanOnce());
    this.#scanning = next.catch(() => undefined);
    return next;
  }

  /** Scans now and then keeps watching the folder (fs.watch plus a rescan every rescanMs). */
  async start(): Promise<void> {
    await this.scan();
    this.watch();
  }

  /** Starts watching the folder; changes trigger a debounced scan. */
  watch(): void {
    if (this.#closed || this.#interval) return;
    try {
      this.#watcher = fsWatch(this.#o.dir, { persistent: false }, () => this.#schedule(this.#o.debounceMs));
      this.#watcher.on('error', (err) => {
        this.#o.log.warn({ dir: this.#o.dir, err: err.message }, 'isos: watch failed, relying on periodic rescans');
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#o.log.warn({ dir: this.#o.dir, err: (err as Error).message }, 'isos: cannot watch folder, relying on periodic rescans');
    }
    this.#interval = setInterval(() => this.#schedule(0), this.#o.rescanMs);
    this.#interval.unref();
  }

  /** Stops watching and closes every image. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#interval);
    clearTimeout(this.#pendingScan);
    await this.#scanning;
    for (const path of [...this.#byPath.keys()]) await this.#unload(path, true);
  }

  /** Arranges one scan `delay` ms from now unless one is already due. */
  #schedule(delay: number): void {
    if (this.#closed || this.#pendingScan) return;
    this.#pendingScan = setTimeout(() => {
      this.#pendingScan = undefined;
      this.scan().catch((err: Error) => this.#o.log.error({ dir: this.#o.dir, err: err.message }, 'isos: scan failed'));
    }, delay);
    this.#pendingScan.unref();
  }

  async #scanOnce(): Promise<void> {
    if (this.#closed) return;
    const present = new Set<string>();
    let names: string[] = [];
    try {
      names = (await readdir(this.#o.dir)).filter((n) => /\.iso$/i.test(n)).sort();
    } catch (err) {
      this.#o.log.warn({ dir: this.#o.dir, err: (err as Error).message }, 'isos: cannot read folder');
    }
    for (const n of names) {
      const path = join(this.#o.dir, n);
      const st = await stat(path).catch(() => null);
      if (!st?.isFile()) continue;
      present.add(path);
      const stamp: FileStamp = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
      const key = stampKey(stamp);
      const loaded = this.#byPath.get(path);
      if (loaded?.key === key || this.#skipped.get(path)?.key === key) continue;
      if (loaded) {
        this.#o.log.info({ iso: path }, 'isos: image changed, reloading once stable');
        await this.#unload(path, false);
      }
      if (!this.#settle.isStable(path, stamp, this.#o.now())) continue;
      await this.#load(path, key, stamp);
    }
    for (const path of [...this.#byPath.keys()]) if (!present.has(path)) await this.#unload(path, false);
    for (const path of [...this.#skipped.keys()]) if (!present.has(path)) this.#skipped.delete(path);
    this.#settle.retain(present);
    if (this.#settle.waiting > 0 && this.#interval) this.#schedule(this.#o.settleMs);
  }

  async #load(path: string, key: string, stamp: FileStamp): Promise<void> {
    let source: ReadIntoSource | undefined;
    this.#skipped.delete(path);
    try {
      source = await openImageFile(path);
      const reader = await openIso(source, this.#o.reader);
      const distro = await detectDistro(reader, { volumeId: reader.volume.volumeId, fileName: basename(path) });
      if (distro.source === 'none') {
        await source.close?.();
        return this.#skip({ isoPath: path, reason: `no distro found: ${distro.reasons.join('; ')}`, distro }, key);
      }
      const entry: CatalogEntry = {
        name: this.#uniqueName(distro.name, path),
        isoPath: path,
        fileName: basename(path),
        size: stamp.size,
        mtime: new Date(stamp.mtimeMs),
        distro,
        reader,
        identity: createHash('sha1').update(`${path}\0${key}`).digest('hex').slice(0, 16),
      };
      let closing: Promise<void> | undefined;
      const src = source;
      const release = () => (closing ??= (src.close?.() ?? Promise.resolve()).catch(() => undefined));
      const loaded: Loaded = { entry, key, open: 0, removed: false, release };
      this.#byPath.set(path, loaded);
      this.#byName.set(entry.name, loaded);
      this.#o.log.info({ iso: path, distro: entry.name, family: distro.family, source: distro.source }, 'isos: image added');
      this.emit('added', entry);
    } catch (err) {
      await source?.close?.().catch(() => undefined);
      this.#skip({ isoPath: path, reason: (err as Error).message }, key);
    }
  }

  #skip(skipped: SkippedIso, key: string): void {
    this.#skipped.set(skipped.isoPath, { ...skipped, key });
    this.#o.log.warn({ iso: skipped.isoPath, reason: skipped.reason }, 'isos: image skipped');
    this.emit('skipped', skipped);
  }

  /** Returns `name`, or a variant with the file name (then a counter) when another image holds it. */
  #uniqueName(name: string, path: string): string {
    if (!this.#byName.has(name)) return name;
    const withFile = slug(`${name}-${basename(path).replace(/\.iso$/i, '')}`).slice(0, 56);
    let candidate = withFile;
    for (let i = 2; this.#byName.has(candidate); i++) candidate = `${withFile}-${i}`;
    return candidate;
  }

  async #unload(path: string, now: boolean): Promise<void> {
    const loaded = this.#byPath.get(path);
    if (!loaded) return;
    this.#byPath.delete(path);
    this.#byName.delete(loaded.entry.name);
    loaded.removed = true;
    this.#o.log.info({ iso: path, distro: loaded.entry.name }, 'isos: image removed');
    this.emit('removed', loaded.entry);
    if (now || loaded.open === 0) return loaded.release();
    setTimeout(() => void loaded.release(), this.#o.drainMs).unref();
  }
}
