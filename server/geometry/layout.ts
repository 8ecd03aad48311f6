// Pure disk arithmetic: where each partition of a disk starts and ends, in 512-byte sectors, for
// the two alignments kickstand knows. CHS follows the notes (255 heads, 63 sectors per track: a
// cylinder is 16065 sectors = 8225280 bytes; partition 1 starts at sector 63 and every partition
// ends on a cylinder boundary); 1MiB starts at sector 2048 and sizes are whole MiB.
import { ProfileError } from '../errors.ts';

export const SECTOR_BYTES = 512;
export const CHS_HEADS = 255;
export const CHS_SECTORS = 63;
/** Sectors in one CHS cylinder (255 × 63). */
export const CYLINDER_SECTORS = CHS_HEADS * CHS_SECTORS;
/** Bytes in one CHS cylinder (8225280). */
export const CYLINDER_BYTES = CYLINDER_SECTORS * SECTOR_BYTES;
/** Sectors in one MiB (2048). */
export const MIB_SECTORS = (1024 * 1024) / SECTOR_BYTES;
/** Block size kickstand gives ext2/3/4 (GRUB legacy reads 4 KiB blocks; 1 KiB blocks are slow). */
export const EXT_BLOCK_BYTES = 4096;
/** MBR partition type codes sfdisk takes (efi: the EFI system partition, 0xEF). */
export const PARTITION_TYPES = { linux: '83', swap: '82', efi: 'ef' } as const;

export type Alignment = 'chs' | '1MiB';
/** What a partition holds; `biosboot` (GRUB 2's core image on a GPT disk booted by BIOS) exists only on GPT. */
export type PartitionKind = keyof typeof PARTITION_TYPES | 'biosboot';

/** One partition asked for: a size in MiB, or none for "the rest of the disk" (last only). */
export interface PartitionRequest {
  sizeMib?: number;
  kind: PartitionKind;
  bootable?: boolean;
}

/** Where one partition landed. Sectors are 512 bytes; `end` is inclusive. */
export interface PartitionLayout {
  /** 1-based partition number (hda1 is 1). */
  number: number;
  kind: PartitionKind;
  /** MBR type code (83 Linux, 82 swap, ef EFI), or the GPT type GUID on a GPT disk. */
  type: string;
  bootable: boolean;
  start: number;
  end: number;
  sectors: number;
  /** Byte offset of the first sector (for `mke2fs -E offset=`, `mkswap --offset`, `img?offset=`). */
  offset: number;
  bytes: number;
  /** Whole 1 KiB blocks: the notes' mkfs.ext3 figure, (63·255·C − 63) / 2 for one CHS partition. */
  kib: number;
  /** Whole ext blocks of EXT_BLOCK_BYTES: the count kickstand passes to mke2fs with `-b 4096`. */
  extBlocks: number;
}

/** A whole disk: its size, alignment and partitions in order. */
export interface DiskLayout {
  alignment: Alignment;
  /** Partition table: an MBR (`dos`, the default) or a GUID partition table (gpt.ts). */
  label?: 'dos' | 'gpt';
  bytes: number;
  sectors: number;
  /** Whole CHS cylinders (floor(bytes / 8225280)); reported for 1MiB disks too. */
  cylinders: number;
  partitions: PartitionLayout[];
}

/** Returns the partition table of a disk of sizeMib for the requests, or throws ProfileError when they do not fit. */
export function layoutDisk(sizeMib: number, requests: readonly PartitionRequest[], alignment: Alignment, where = 'disk'): DiskLayout {
  if (!Number.isSafeInteger(sizeMib) || sizeMib < 1) throw new ProfileError(`${where}: size ${JSON.stringify(sizeMib)} MiB is not a positive whole number`);
  if (requests.length < 1 || requests.length > 4) throw new ProfileError(`${where}: ${requests.length} partitions; an MBR disk holds 1 to 4 primary partitions`);
  requests.forEach((r, i) => {
    if (r.kind === 'biosboot') throw new ProfileError(`${where}: partition ${i + 1}: a BIOS boot partition needs a GPT disk`);
    if (r.sizeMib === undefined && i !== requests.length - 1) throw new ProfileError(`${where}: partition ${i + 1}: only the last partition may take the rest of the disk`);
    if (r.sizeMib !== undefined && (!Number.isSafeInteger(r.sizeMib) || r.sizeMib < 1)) {
      throw new ProfileError(`${where}: partition ${i + 1}: size ${JSON.stringify(r.sizeMib)} MiB is not a positive whole number`);
    }
  });
  const bytes = sizeMib * 1024 * 1024;
  const sectors = bytes / SECTOR_BYTES;
  const cylinders = Math.floor(bytes / CYLINDER_BYTES);
  const spans = alignment === 'chs' ? chsSpans(cylinders, requests, where) : mibSpans(sizeMib, requests, where);
  const partitions = spans.map(([start, end], i) => partition(i + 1, requests[i]!, start, end));
  return { alignment, bytes, sectors, cylinders, partitions };
}

/** Returns [start, end] sector spans on whole cylinders; sizes round to the nearest cylinder (at least one). */
function chsSpans(cylinders: number, requests: readonly PartitionRequest[], where: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let cyl = 0;
  for (const [i, r] of requests.entries()) {
    const count = r.sizeMib === undefined ? cylinders - cyl : Math.max(1, Math.round((r.sizeMib * 1024 * 1024) / CYLINDER_BYTES));
    if (count < 1 || cyl + count > cylinders) {
      throw new ProfileError(`${where}: partition ${i + 1} does not fit: the disk has ${cylinders} whole cylinders of ${CYLINDER_BYTES} bytes and ${Math.max(0, cylinders - cyl)} are left`);
    }
    // The first partition skips track 0 (the MBR and its gap); the others start on a cylinder.
    const start = cyl === 0 ? CHS_SECTORS : cyl * CYLINDER_SECTORS;
    cyl += count;
    spans.push([start, cyl * CYLINDER_SECTORS - 1]);
  }
  return spans;
}

/** Returns [start, end] sector spans on MiB boundaries, the first at sector 2048 (the last may end at sizeMib). */
export function mibSpans(sizeMib: number, requests: readonly PartitionRequest[], where: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let mib = 1;
  for (const [i, r] of requests.entries()) {
    const count = r.sizeMib === undefined ? sizeMib - mib : r.sizeMib;
    if (count < 1 || mib + count > sizeMib) {
      throw new ProfileError(`${where}: partition ${i + 1} does not fit: ${Math.max(0, sizeMib - mib)} MiB of the ${sizeMib} MiB disk are left after the first MiB and earlier partitions`);
    }
    spans.push([mib * MIB_SECTORS, (mib + count) * MIB_SECTORS - 1]);
    mib += count;
  }
  return spans;
}

/** Returns the figures of one partition spanning start..end (inclusive); type defaults to the MBR code of its kind. */
export function partition(number: number, r: PartitionRequest, start: number, end: number, type = r.kind === 'biosboot' ? '' : PARTITION_TYPES[r.kind]): PartitionLayout {
  const sectors = end - start + 1;
  const bytes = sectors * SECTOR_BYTES;
  const kib = Math.floor(bytes / 1024);
  return {
    number,
    kind: r.kind,
    type,
    bootable: r.bootable ?? false,
    start,
    end,
    sectors,
    offset: start * SECTOR_BYTES,
    bytes,
    kib,
    extBlocks: Math.floor(bytes / EXT_BLOCK_BYTES),
  };
}
