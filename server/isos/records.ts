// Directory records (ECMA-119 9.1) and whole directories: record bounds are checked against their
// sector, names come from the chosen tree, multi-extent files (6.5.1) are joined, and every extent
// is checked against the end of the image before anyone reads it.
import { IsoError } from '../errors.ts';
import { checkExtent, readExact, recordDate, u32both, ucs2be } from './codec.ts';
import { parseSystemUse, type SystemUse } from './susp.ts';
import type { Extent, IsoContext, IsoEntry } from './types.ts';

/** Directory record flags (ECMA-119 9.1.6). */
export const FLAG_HIDDEN = 0x01;
export const FLAG_DIRECTORY = 0x02;
export const FLAG_ASSOCIATED = 0x04;
export const FLAG_MULTI_EXTENT = 0x80;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/** One directory record's fields, undecoded names. */
export interface RawRecord {
  readonly length: number;
  readonly earLength: number;
  readonly block: number;
  readonly dataLength: number;
  readonly date: Date;
  readonly flags: number;
  readonly interleaved: boolean;
  readonly id: Buffer;
  readonly systemUse: Buffer;
}

/** A parsed directory: entries in disc order and an index by name. */
export interface DirListing {
  readonly entries: readonly IsoEntry[];
  readonly byName: ReadonlyMap<string, IsoEntry>;
  /** Lower-cased names, for plain ISO trees whose names are upper case on disc. */
  readonly byFoldedName?: ReadonlyMap<string, IsoEntry>;
}

/** Returns the record at `pos`, or throws IsoError when its lengths do not fit before `limit`. */
export function parseRecord(buf: Buffer, pos: number, limit: number, where: string): RawRecord {
  const length = buf[pos]!;
  const idLength = pos + 32 < buf.length ? buf[pos + 32]! : 0;
  if (length < 34 || pos + length > limit || 33 + idLength > length || idLength === 0) {
    throw new IsoError(`iso: directory '${where}': bad record length ${length} (name length ${idLength}) at byte ${pos}`);
  }
  const suStart = pos + 33 + idLength + (idLength % 2 === 0 ? 1 : 0);
  return {
    length,
    earLength: buf[pos + 1]!,
    block: u32both(buf, pos + 2),
    dataLength: u32both(buf, pos + 10),
    date: recordDate(buf, pos + 18),
    flags: buf[pos + 25]!,
    interleaved: buf[pos + 26] !== 0 || buf[pos + 27] !== 0,
    id: buf.subarray(pos + 33, pos + 33 + idLength),
    systemUse: buf.subarray(Math.min(suStart, pos + length), pos + length),
  };
}

/** Returns a plain ISO name without its `;1` version and a trailing dot. */
export function cleanIsoName(name: string): string {
  return name.replace(/;\d*$/, '').replace(/\.$/, '');
}

/** Returns the parsed directory at `dir`; `where` names it in errors. */
export async function readDirectory(ctx: IsoContext, dir: Extent, where: string): Promise<DirListing> {
  if (dir.length > ctx.maxDirBytes) {
    throw new IsoError(`iso: directory '${where}' is ${dir.length} bytes, more than the ${ctx.maxDirBytes} allowed`);
  }
  const buf = await readExact(ctx.image, dir.start, dir.length, `directory '${where}'`);
  const bs = ctx.blockSize;
  const entries: IsoEntry[] = [];
  let pending: { rec: RawRecord; su?: SystemUse; offset: number; extents: Extent[] } | undefined;
  const flush = async () => {
    if (!pending) return;
    const entry = await toEntry(ctx, pending.rec, pending.su, pending.extents, pending.offset, where);
    pending = undefined;
    if (entry) entries.push(entry);
    if (entries.length > ctx.maxDirEntries) {
      throw new IsoError(`iso: directory '${where}' has more than ${ctx.maxDirEntries} entries`);
    }
  };
  let pos = 0;
  while (pos < buf.length) {
    const sectorEnd = Math.min(buf.length, (Math.floor(pos / bs) + 1) * bs);
    if (buf[pos] === 0) {
      pos = sectorEnd; // records never cross a sector; zeros pad to the next (ECMA-119 6.8.1.1)
      continue;
    }
    const rec = parseRecord(buf, pos, sectorEnd, where);
    const offset = dir.start + pos;
    pos += rec.length;
    if (rec.id.length === 1 && rec.id[0]! <= 1) continue; // "." and ".."
    if (rec.flags & FLAG_ASSOCIATED) continue;
    const extent = { start: (rec.block + rec.earLength) * bs, length: rec.dataLength };
    if (pending && pending.rec.id.equals(rec.id)) {
      pending.extents.push(extent);
      if (!(rec.flags & FLAG_MULTI_EXTENT)) await flush();
      continue;
    }
    await flush();
    const su = ctx.names === 'rockridge'
      ? await parseSystemUse(ctx.image, bs, ctx.maxContinuations, rec.systemUse.subarray(ctx.suspSkip), `directory '${where}'`)
      : undefined;
    if (su?.relocated) continue; // shown where its CL entry is
    pending = { rec, su, offset, extents: [extent] };
    if (!(rec.flags & FLAG_MULTI_EXTENT)) await flush();
  }
  await flush();
  return index(entries, ctx.names === 'iso');
}

/** Returns the entry a record (or run of multi-extent records) describes, or null when it has no usable name. */
async function toEntry(ctx: IsoContext, rec: RawRecord, su: SystemUse | undefined, extents: Extent[], offset: number, where: string): Promise<IsoEntry | null> {
  const isoName = cleanIsoName(ctx.names === 'joliet' ? ucs2be(rec.id) : rec.id.toString('latin1'));
  const name = usable(su?.name) ? su!.name! : isoName;
  if (!usable(name)) return null;
  const path = `${where === '/' ? '' : where}/${name}`;
  const mode = su?.mode;
  let type: IsoEntry['type'] = 'file';
  if (rec.flags & FLAG_DIRECTORY || su?.childLink !== undefined || (mode !== undefined && (mode & S_IFMT) === S_IFDIR)) type = 'dir';
  if (su?.target !== undefined || (mode !== undefined && (mode & S_IFMT) === S_IFLNK)) type = 'symlink';
  if (su?.childLink !== undefined) extents = [await relocatedDirectory(ctx, su.childLink, path)];
  if (type === 'file' && rec.interleaved) throw new IsoError(`iso: '${path}': interleaved files are not supported`);
  for (const e of extents) if (e.length > 0) checkExtent(e.start, e.length, ctx.image.size, `'${path}'`);
  const size = type === 'symlink' ? 0 : extents.reduce((n, e) => n + e.length, 0);
  return {
    name,
    type,
    size,
    mtime: su?.mtime ?? rec.date,
    mode,
    nlink: su?.nlink,
    uid: su?.uid,
    gid: su?.gid,
    target: type === 'symlink' ? su?.target ?? '' : undefined,
    extents,
    hidden: (rec.flags & FLAG_HIDDEN) !== 0,
    recordOffset: offset,
  };
}

/** Returns the extent of a directory relocated to `block` (RRIP 4.1.5.1), read from its "." record. */
async function relocatedDirectory(ctx: IsoContext, block: number, path: string): Promise<Extent> {
  const start = block * ctx.blockSize;
  const first = await readExact(ctx.image, start, Math.min(ctx.blockSize, ctx.image.size - start), `'${path}': relocated directory`);
  const self = parseRecord(first, 0, first.length, path);
  return { start: (self.block + self.earLength) * ctx.blockSize, length: self.dataLength };
}

/** Returns whether a name can appear as one path component. */
function usable(name: string | undefined): boolean {
  return name !== undefined && name !== '' && name !== '.' && name !== '..' && !/[/\0]/.test(name);
}

/** Returns the listing with its name indexes (first entry wins on a duplicate name). */
function index(entries: IsoEntry[], fold: boolean): DirListing {
  const byName = new Map<string, IsoEntry>();
  const byFoldedName = fold ? new Map<string, IsoEntry>() : undefined;
  for (const e of entries) {
    if (!byName.has(e.name)) byName.set(e.name, e);
    const folded = e.name.toLowerCase();
    if (byFoldedName && !byFoldedName.has(folded)) byFoldedName.set(folded, e);
  }
  return { entries, byName, byFoldedName };
}
