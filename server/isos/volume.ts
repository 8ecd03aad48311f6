// The volume descriptor set (ECMA-119 8): the primary descriptor, a Joliet supplementary descriptor
// (escape sequences %/@, %/C, %/E) and an El Torito boot record, read from sector 16 on.
import { IsoError } from '../errors.ts';
import { digitDate, padded, readExact, u16both, u32both } from './codec.ts';
import { parseRecord, type RawRecord } from './records.ts';
import type { IsoImage } from './types.ts';

/** Descriptors always sit in 2048-byte sectors, whatever the logical block size (ECMA-119 6.2.1). */
export const SECTOR = 2048;
const FIRST_DESCRIPTOR = 16;
/** Most descriptors read before giving up on finding a terminator. */
export const MAX_DESCRIPTORS = 64;

const TYPE_BOOT = 0;
const TYPE_PRIMARY = 1;
const TYPE_SUPPLEMENTARY = 2;
const TYPE_TERMINATOR = 255;

/** What the descriptor set holds. */
export interface Descriptors {
  readonly primary: PrimaryDescriptor;
  /** Root of the Joliet tree, when a Joliet supplementary descriptor exists. */
  readonly jolietRoot?: RawRecord;
  /** Block of the El Torito boot catalog, when a boot record names one. */
  readonly bootCatalogBlock?: number;
}

/** The primary volume descriptor's fields the reader uses (ECMA-119 8.4). */
export interface PrimaryDescriptor {
  readonly systemId: string;
  readonly volumeId: string;
  readonly volumeSetId: string;
  readonly publisherId: string;
  readonly preparerId: string;
  readonly applicationId: string;
  readonly created?: Date;
  readonly modified?: Date;
  readonly blocks: number;
  readonly blockSize: number;
  readonly root: RawRecord;
}

/** Returns the descriptor set, or throws IsoError when the image has no valid primary descriptor. */
export async function readDescriptors(image: IsoImage): Promise<Descriptors> {
  if (image.size < (FIRST_DESCRIPTOR + 1) * SECTOR) {
    throw new IsoError(`iso: image is ${image.size} bytes, too small to hold a volume descriptor at sector ${FIRST_DESCRIPTOR}`);
  }
  let primary: PrimaryDescriptor | undefined;
  let jolietRoot: RawRecord | undefined;
  let bootCatalogBlock: number | undefined;
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const at = (FIRST_DESCRIPTOR + i) * SECTOR;
    if (at + SECTOR > image.size) break;
    const d = await readExact(image, at, SECTOR, 'volume descriptor');
    const magic = d.toString('latin1', 1, 6);
    if (magic !== 'CD001') {
      if (i === 0) throw new IsoError(`iso: no 'CD001' volume descriptor at sector ${FIRST_DESCRIPTOR} (found ${JSON.stringify(magic)})`);
      break;
    }
    const type = d[0];
    if (type === TYPE_TERMINATOR) break;
    if (type === TYPE_PRIMARY && !primary) primary = parsePrimary(d);
    if (type === TYPE_SUPPLEMENTARY && !jolietRoot && isJoliet(d)) jolietRoot = parseRecord(d, 156, 190, 'joliet root');
    if (type === TYPE_BOOT && d.toString('latin1', 7, 30) === 'EL TORITO SPECIFICATION') bootCatalogBlock = d.readUInt32LE(71);
  }
  if (!primary) throw new IsoError('iso: no primary volume descriptor before the terminator');
  if (primary.blocks * primary.blockSize > image.size) {
    throw new IsoError(
      `iso: image is ${image.size} bytes but its volume holds ${primary.blocks} blocks of ${primary.blockSize} (${primary.blocks * primary.blockSize} bytes): truncated`,
    );
  }
  return { primary, jolietRoot, bootCatalogBlock };
}

/** Returns the primary descriptor in sector `d`, or throws IsoError on impossible values. */
function parsePrimary(d: Buffer): PrimaryDescriptor {
  const blockSize = u16both(d, 128);
  if (![512, 1024, 2048].includes(blockSize)) throw new IsoError(`iso: primary volume descriptor: bad logical block size ${blockSize}`);
  const root = parseRecord(d, 156, 190, 'root');
  if (!(root.flags & 0x02)) throw new IsoError('iso: primary volume descriptor: root record is not a directory');
  return {
    systemId: padded(d, 8, 32),
    volumeId: padded(d, 40, 32),
    volumeSetId: padded(d, 190, 128),
    publisherId: padded(d, 318, 128),
    preparerId: padded(d, 446, 128),
    applicationId: padded(d, 574, 128),
    created: digitDate(d, 813),
    modified: digitDate(d, 830),
    blocks: u32both(d, 80),
    blockSize,
    root,
  };
}

/** Returns whether a supplementary descriptor is Joliet (escape sequences at 88, Joliet spec 2.2). */
function isJoliet(d: Buffer): boolean {
  if (d[7]! & 0x01) return false; // flags: escape sequences not registered per ISO 2375
  const esc = d.subarray(88, 120);
  return esc[0] === 0x25 && esc[1] === 0x2f && [0x40, 0x43, 0x45].includes(esc[2]!);
}

