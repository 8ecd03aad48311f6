// System Use Sharing Protocol (IEEE P1281) entries and the Rock Ridge (RRIP, IEEE P1282) ones the
// reader uses: NM names, SL symlinks, PX modes, TF times, CL/RE relocation, SP/ER markers, and CE
// continuation areas, followed a bounded number of times so a looping CE cannot hang the reader.
import { IsoError } from '../errors.ts';
import { digitDate, readExact, recordDate } from './codec.ts';
import type { IsoImage } from './types.ts';

/** What one directory record's system use area says, decoded. */
export interface SystemUse {
  /** Rock Ridge alternate name (NM, 4.1.4), joined over continuations. */
  name?: string;
  /** Rock Ridge symbolic link target (SL, 4.1.3). */
  target?: string;
  mode?: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  /** Modification time (TF, 4.1.6). */
  mtime?: Date;
  /** Child link: the block of a directory relocated out of this place (CL, 4.1.5.1). */
  childLink?: number;
  /** This directory was relocated and is reached through a CL entry elsewhere (RE, 4.1.5.3). */
  relocated: boolean;
  /** SUSP indicator (SP, SUSP 5.3): bytes to skip in every other system use area. */
  spSkip?: number;
  /** Extension identifiers announced with ER (SUSP 5.5), e.g. RRIP_1991A. */
  extensions: string[];
  /** Any Rock Ridge entry seen (PX, NM, SL, TF, RR). */
  rockRidge: boolean;
}

/** Largest continuation area accepted (SUSP 5.1 keeps one within a logical block). */
const MAX_CE_LENGTH = 64 * 1024;

/** Returns the decoded system use area `area`, following CE entries at most `maxContinuations` times. */
export async function parseSystemUse(
  image: IsoImage,
  blockSize: number,
  maxContinuations: number,
  area: Buffer,
  what: string,
): Promise<SystemUse> {
  const out: SystemUse = { relocated: false, extensions: [], rockRidge: false };
  const nameParts: Buffer[] = [];
  const link: string[] = [];
  let linkContinues = false;
  let hops = 0;
  let buf = area;
  for (;;) {
    let ce: { start: number; length: number } | undefined;
    let stop = false;
    let pos = 0;
    while (pos + 4 <= buf.length && !stop) {
      const len = buf[pos + 2]!;
      if (len < 4 || pos + len > buf.length) break; // padding or damage: this area ends here
      const e = buf.subarray(pos, pos + len);
      const sig = e.toString('latin1', 0, 2);
      pos += len;
      switch (sig) {
        case 'SP':
          if (len >= 7 && e[4] === 0xbe && e[5] === 0xef) out.spSkip = e[6];
          break;
        case 'ER':
          if (len >= 8) out.extensions.push(e.toString('latin1', 8, Math.min(len, 8 + e[4]!)));
          break;
        case 'CE':
          if (len >= 28) ce = { start: e.readUInt32LE(4) * blockSize + e.readUInt32LE(12), length: e.readUInt32LE(20) };
          break;
        case 'ST':
          stop = true;
          break;
        case 'PX':
          out.rockRidge = true;
          if (len >= 36) {
            out.mode = e.readUInt32LE(4);
            out.nlink = e.readUInt32LE(12);
            out.uid = e.readUInt32LE(20);
            out.gid = e.readUInt32LE(28);
          }
          break;
        case 'NM':
          out.rockRidge = true;
          // Flags 0x02/0x04 stand for "." and ".." and carry no text.
          if (len >= 5 && (e[4]! & 0x06) === 0) nameParts.push(e.subarray(5));
          break;
        case 'SL':
          out.rockRidge = true;
          linkContinues = slComponents(e, link, linkContinues);
          break;
        case 'TF':
          out.rockRidge = true;
          out.mtime = tfModified(e) ?? out.mtime;
          break;
        case 'RR':
          out.rockRidge = true;
          break;
        case 'CL':
          if (len >= 12) out.childLink = e.readUInt32LE(4);
          break;
        case 'RE':
          out.relocated = true;
          break;
        default:
          break;
      }
    }
    if (stop || !ce) break;
    if (++hops > maxContinuations) {
      throw new IsoError(`iso: ${what}: more than ${maxContinuations} SUSP continuation areas (CE loop?)`);
    }
    if (ce.length > MAX_CE_LENGTH) {
      throw new IsoError(`iso: ${what}: SUSP continuation area of ${ce.length} bytes is too long`);
    }
    buf = await readExact(image, ce.start, ce.length, `${what}: SUSP continuation area`);
  }
  if (nameParts.length > 0) out.name = Buffer.concat(nameParts).toString('utf8');
  if (link.length > 0) out.target = link.length === 1 && link[0] === '' ? '/' : link.join('/');
  return out;
}

/** Appends the component records of one SL entry to `parts`; returns whether the last one continues. */
function slComponents(e: Buffer, parts: string[], continues: boolean): boolean {
  let p = 5;
  while (p + 2 <= e.length) {
    const flags = e[p]!;
    const len = e[p + 1]!;
    if (p + 2 + len > e.length) break;
    let text: string;
    if (flags & 0x02) text = '.';
    else if (flags & 0x04) text = '..';
    else if (flags & 0x08) text = ''; // root: a leading empty part makes join() start with "/"
    else text = e.toString('utf8', p + 2, p + 2 + len);
    if (continues && parts.length > 0) parts[parts.length - 1] += text;
    else parts.push(text);
    continues = (flags & 0x01) !== 0;
    p += 2 + len;
  }
  return continues;
}

/** Returns the modification time in a TF entry, when recorded. */
function tfModified(e: Buffer): Date | undefined {
  const flags = e[4] ?? 0;
  const size = flags & 0x80 ? 17 : 7;
  let p = 5;
  for (let bit = 0; bit < 7; bit++) {
    if (!(flags & (1 << bit))) continue;
    if (p + size > e.length) return undefined;
    if (bit === 1) return size === 17 ? digitDate(e, p) : recordDate(e, p);
    p += size;
  }
  return undefined;
}
