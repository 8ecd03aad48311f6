// El Torito boot catalog (El Torito 1.0, 2.1–2.4): the validation entry, the initial/default entry
// and section headers with their entries (e.g. a BIOS isolinux entry plus a UEFI efiboot.img one).
import { IsoError } from '../errors.ts';
import { readExact } from './codec.ts';
import type { BootCatalog, BootEntry, IsoImage } from './types.ts';

const CD_SECTOR = 2048;
/** Most catalog sectors read; a catalog of 4 sectors already holds 255 entries. */
const MAX_CATALOG_SECTORS = 4;

const PLATFORMS: Record<number, BootEntry['platform']> = { 0: 'x86', 1: 'ppc', 2: 'mac', 0xef: 'efi' };
const MEDIA: Record<number, BootEntry['emulation']> = {
  0: 'none',
  1: 'floppy-1.2m',
  2: 'floppy-1.44m',
  3: 'floppy-2.88m',
  4: 'hard-disk',
};

/** Returns the boot catalog at `block`, or throws IsoError when its validation entry is wrong. */
export async function readBootCatalog(image: IsoImage, block: number): Promise<BootCatalog> {
  const start = block * CD_SECTOR;
  const length = Math.min(MAX_CATALOG_SECTORS * CD_SECTOR, image.size - start);
  const buf = await readExact(image, start, Math.max(length, 32), `el torito boot catalog at block ${block}`);
  const v = buf.subarray(0, 32);
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + v.readUInt16LE(i)) & 0xffff;
  if (v[0] !== 0x01 || v[30] !== 0x55 || v[31] !== 0xaa || sum !== 0) {
    throw new IsoError(`iso: el torito boot catalog at block ${block}: bad validation entry`);
  }
  const entries: BootEntry[] = [];
  if (buf.length >= 64) entries.push(entry(buf.subarray(32, 64), v[1]!));
  let pos = 64;
  let last = false;
  while (!last && pos + 32 <= buf.length) {
    const header = buf[pos]!;
    if (header !== 0x90 && header !== 0x91) break; // no more sections
    last = header === 0x91;
    const platform = buf[pos + 1]!;
    let count = buf.readUInt16LE(pos + 2);
    pos += 32;
    while (count > 0 && pos + 32 <= buf.length) {
      if (buf[pos] === 0x44) {
        pos += 32; // section entry extension (2.4): nothing the reader reports
        continue;
      }
      entries.push(entry(buf.subarray(pos, pos + 32), platform));
      count--;
      pos += 32;
    }
  }
  return { catalogBlock: block, idString: v.toString('latin1', 4, 28).replace(/[\s\0]+$/, ''), entries };
}

/** Returns one initial/default or section entry (2.2, 2.4). */
function entry(e: Buffer, platform: number): BootEntry {
  const imageBlock = e.readUInt32LE(8);
  return {
    platform: PLATFORMS[platform] ?? `0x${platform.toString(16)}`,
    bootable: e[0] === 0x88,
    emulation: MEDIA[e[1]! & 0x0f] ?? `0x${(e[1]! & 0x0f).toString(16)}`,
    loadSegment: e.readUInt16LE(2),
    systemType: e[4]!,
    sectorCount: e.readUInt16LE(6),
    imageBlock,
    imageOffset: imageBlock * CD_SECTOR,
  };
}
