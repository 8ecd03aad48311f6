// Shapes shared by the ISO9660 reader's parts (ECMA-119, SUSP/RRIP IEEE P1281/P1282, Joliet, El Torito)
// and the limits that keep a malformed image from costing unbounded time or memory.
import type { ByteSource } from '../byte-source.ts';

/** Reads up to `length` bytes at `offset` of the image (fewer only at its end). */
export type ReadFn = (offset: number, length: number) => Promise<Buffer>;

/** Fills `target` from `offset` (fewer bytes only at the end); returns how many were read. */
export type ReadIntoFn = (target: Buffer, offset: number) => Promise<number>;

/** A ByteSource that can also read into a caller's buffer (ISO files from the catalog are these). */
export interface ReadIntoSource extends ByteSource {
  readInto: ReadIntoFn;
}

/** What the reader needs of an image: its size and random access to it (a ByteSource fits). */
export interface IsoImage {
  readonly size: number;
  read: ReadFn;
  /** Reads into a caller's buffer, when the image can (openImageFile's can): lets streams reuse buffers. */
  readInto?: ReadIntoFn;
}

/** A contiguous run of file bytes inside the image. */
export interface Extent {
  /** Byte offset in the image. */
  readonly start: number;
  readonly length: number;
}

/** Which directory tree names come from. */
export type NameSource = 'rockridge' | 'joliet' | 'iso';

/** One file, directory or symbolic link found in a directory. */
export interface IsoEntry {
  /** Name as presented: Rock Ridge NM, else Joliet, else the ISO name without `;1` and a trailing dot. */
  readonly name: string;
  readonly type: 'file' | 'dir' | 'symlink';
  /** Bytes: a file's total over all extents, a directory's record area, 0 for a symlink. */
  readonly size: number;
  readonly mtime: Date;
  /** POSIX mode, links, owner (Rock Ridge PX) when recorded. */
  readonly mode?: number;
  readonly nlink?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Symbolic link target (Rock Ridge SL). */
  readonly target?: string;
  /** Where the bytes are; several for a multi-extent file (ECMA-119 6.5.1). */
  readonly extents: readonly Extent[];
  /** The directory record carried the hidden (existence) flag. */
  readonly hidden: boolean;
  /** Byte offset in the image of the entry's (first) directory record. */
  readonly recordOffset: number;
}

/** The primary volume descriptor's identity and what the reader found beside it. */
export interface VolumeInfo {
  readonly systemId: string;
  readonly volumeId: string;
  readonly volumeSetId: string;
  readonly publisherId: string;
  readonly preparerId: string;
  readonly applicationId: string;
  readonly created?: Date;
  readonly modified?: Date;
  readonly blockSize: number;
  /** Volume space size in logical blocks. */
  readonly blocks: number;
  readonly rockRidge: boolean;
  readonly joliet: boolean;
  /** The tree the reader presents. */
  readonly names: NameSource;
  readonly elTorito: boolean;
}

/** One bootable image listed in an El Torito boot catalog. */
export interface BootEntry {
  readonly platform: 'x86' | 'ppc' | 'mac' | 'efi' | `0x${string}`;
  readonly bootable: boolean;
  readonly emulation: 'none' | 'floppy-1.2m' | 'floppy-1.44m' | 'floppy-2.88m' | 'hard-disk' | `0x${string}`;
  readonly loadSegment: number;
  readonly systemType: number;
  /** Load size in 512-byte virtual sectors (as recorded; 0 means "whole image" to some firmware). */
  readonly sectorCount: number;
  /** Boot image location in 2048-byte blocks, and as a byte offset. */
  readonly imageBlock: number;
  readonly imageOffset: number;
}

/** The El Torito boot catalog (El Torito 1.0, section 2). */
export interface BootCatalog {
  readonly catalogBlock: number;
  readonly idString: string;
  readonly entries: readonly BootEntry[];
}

/** Limits and choices for opening an image; every one has a named default. */
export interface IsoReaderOptions {
  /** Force a tree; 'auto' prefers Rock Ridge, then Joliet, then plain ISO names. */
  names?: 'auto' | NameSource;
  /** Directory listings kept parsed (LRU). */
  dirCacheSize?: number;
  /** Deepest directory nesting followed. */
  maxDepth?: number;
  /** Largest directory record area read. */
  maxDirBytes?: number;
  /** Most entries accepted in one directory. */
  maxDirEntries?: number;
  /** Most symbolic links followed while resolving one path. */
  maxSymlinkHops?: number;
  /** Most SUSP continuation areas (CE) followed for one record. */
  maxContinuations?: number;
}

export const DEFAULT_DIR_CACHE = 256;
export const DEFAULT_MAX_DEPTH = 128;
export const DEFAULT_MAX_DIR_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_DIR_ENTRIES = 200_000;
export const DEFAULT_MAX_SYMLINK_HOPS = 32;
export const DEFAULT_MAX_CONTINUATIONS = 32;

/** Everything the record parsers need to know about an open image. */
export interface IsoContext {
  readonly image: IsoImage;
  readonly blockSize: number;
  readonly names: NameSource;
  /** SUSP LEN_SKP from the root's SP entry (bytes skipped at the start of each system use area). */
  readonly suspSkip: number;
  readonly maxDirBytes: number;
  readonly maxDirEntries: number;
  readonly maxContinuations: number;
}
