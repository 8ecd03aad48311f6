// Low-level decoding shared by the ISO9660 parsers: bounded reads, both-endian numbers, the two
// date formats (ECMA-119 8.4.26.1 and 9.1.5) and padded strings.
import { IsoError } from '../errors.ts';
import type { IsoImage } from './types.ts';

/** Returns exactly `length` bytes at `offset`, or throws IsoError naming `what` if they are not all in the image. */
export async function readExact(image: IsoImage, offset: number, length: number, what: string): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > image.size) {
    throw new IsoError(`iso: ${what} at byte ${offset} (+${length}) runs past the end of the image (${image.size} bytes)`);
  }
  if (length === 0) return Buffer.alloc(0);
  const buf = await image.read(offset, length);
  if (buf.length !== length) {
    throw new IsoError(`iso: ${what}: short read at byte ${offset}: got ${buf.length} of ${length} bytes`);
  }
  return buf;
}

/** Throws IsoError unless [start, start+length) lies inside an image of `size` bytes. */
export function checkExtent(start: number, length: number, size: number, what: string): void {
  if (start + length > size) {
    throw new IsoError(`iso: ${what}: extent at byte ${start} (+${length}) runs past the end of the image (${size} bytes)`);
  }
}

/** Returns the little-endian half of a both-endian 32-bit field (ECMA-119 7.3.3). */
export function u32both(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at);
}

/** Returns the little-endian half of a both-endian 16-bit field (ECMA-119 7.2.3). */
export function u16both(buf: Buffer, at: number): number {
  return buf.readUInt16LE(at);
}

/** Returns an a-/d-character field with its space padding removed. */
export function padded(buf: Buffer, at: number, length: number): string {
  return buf.toString('latin1', at, at + length).replace(/[\s\0]+$/, '');
}

/** Returns a UCS-2 big-endian string (Joliet), with trailing spaces and NULs removed. */
export function ucs2be(buf: Buffer, at = 0, length = buf.length - at): string {
  const even = length - (length % 2);
  const copy = Buffer.from(buf.subarray(at, at + even));
  copy.swap16();
  return copy.toString('utf16le').replace(/[\s\0]+$/, '');
}

/** Returns the 7-byte recording date of a directory record (ECMA-119 9.1.5), UTC. */
export function recordDate(buf: Buffer, at: number): Date {
  const year = buf[at]!;
  const month = buf[at + 1]!;
  if (month < 1 || month > 12) return new Date(0);
  const offsetMinutes = buf.readInt8(at + 6) * 15;
  const ms = Date.UTC(1900 + year, month - 1, buf[at + 2]!, buf[at + 3]!, buf[at + 4]!, buf[at + 5]!);
  return new Date(ms - offsetMinutes * 60_000);
}

/** Returns the 17-byte digit date (ECMA-119 8.4.26.1) as UTC, or undefined when unset. */
export function digitDate(buf: Buffer, at: number): Date | undefined {
  const s = buf.toString('latin1', at, at + 16);
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m || m[1] === '0000') return undefined;
  const [y, mo, d, h, mi, se, cs] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const offsetMinutes = buf.readInt8(at + 16) * 15;
  return new Date(Date.UTC(y, mo - 1, d, h, mi, se, cs * 10) - offsetMinutes * 60_000);
}
