// CHS disk arithmetic for the e2e profile (255 heads, 63 sectors, 512-byte sectors), as DESIGN.md
// states it. A stand-in until server/geometry exists; the kickstand run takes the figures from
// the rendered script instead.

/** Bytes in one cylinder: 255 heads x 63 sectors x 512 bytes. */
export const CYLINDER_BYTES = 255 * 63 * 512;
/** First sector of partition 1: the rest of cylinder 0, head 0. */
export const FIRST_SECTOR = 63;

/** One partition filling a disk from sector 63 to the last whole cylinder. */
export interface ChsPartition {
  cylinders: number;
  startSector: number;
  sectors: number;
  /** File system size in 1 KiB blocks, the figure mke2fs is given. */
  blocks1k: number;
}

/** Returns the single-partition CHS layout of a disk of the given size. */
export function chsPartition(diskBytes: number): ChsPartition {
  const cylinders = Math.floor(diskBytes / CYLINDER_BYTES);
  if (cylinders < 1) throw new Error(`disk of ${diskBytes} bytes holds no whole cylinder`);
  const sectors = 255 * 63 * cylinders - FIRST_SECTOR;
  return { cylinders, startSector: FIRST_SECTOR, sectors, blocks1k: Math.floor(sectors / 2) };
}
