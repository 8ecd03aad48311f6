// A file inside an ISO as a ByteSource: reads map onto the file's extents (several for a
// multi-extent file), so any range streams straight from the image without loading the file.
import { IsoError } from '../errors.ts';
import { readExact } from './codec.ts';
import type { Extent, IsoEntry, IsoImage, ReadIntoSource } from './types.ts';

/** Returns a source reading `entry`'s bytes out of `image`; `path` names it in errors. */
export function extentSource(image: IsoImage, entry: IsoEntry, path: string): ReadIntoSource {
  const extents = entry.extents;
  const starts: number[] = [];
  let total = 0;
  for (const e of extents) {
    starts.push(total);
    total += e.length;
  }
  const size = entry.type === 'file' ? total : 0;
  const what = `iso file '${path}'`;

  /** Calls `piece(extent, offsetInExtent, bytes, doneSoFar)` for each extent slice of [offset, offset+length). */
  async function each(offset: number, length: number, piece: (e: Extent, within: number, n: number, done: number) => Promise<void>): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`${what}: bad read offset ${offset}`);
    const end = Math.min(size, offset + Math.max(0, length));
    let pos = offset;
    for (let i = lastAtOrBefore(starts, offset); pos < end && i < extents.length; i++) {
      const e = extents[i]!;
      const within = pos - starts[i]!;
      const n = Math.min(e.length - within, end - pos);
      if (n <= 0) continue;
      await piece(e, within, n, pos - offset);
      pos += n;
    }
    return Math.max(0, pos - offset);
  }

  return {
    size,
    mtime: entry.mtime,
    async read(offset, length) {
      const pieces: Buffer[] = [];
      await each(offset, length, async (e, within, n) => void pieces.push(await readExact(image, e.start + within, n, what)));
      return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    },
    async readInto(target, offset) {
      // Fast path for the usual one-extent file: no per-piece closures on the hot streaming path.
      if (extents.length === 1 && image.readInto && Number.isSafeInteger(offset) && offset >= 0) {
        const n = Math.max(0, Math.min(target.length, size - offset));
        if (n === 0) return 0;
        const start = extents[0]!.start + offset;
        const got = await image.readInto(n === target.length ? target : target.subarray(0, n), start);
        if (got !== n) throw new IsoError(`${what}: short read at byte ${start}: got ${got} of ${n} bytes`);
        return n;
      }
      return each(offset, target.length, async (e, within, n, done) => {
        const dest = target.subarray(done, done + n);
        if (!image.readInto) return void (await readExact(image, e.start + within, n, what)).copy(dest);
        if (e.start + within + n > image.size) throw new IsoError(`${what}: extent runs past the end of the image`);
        const got = await image.readInto(dest, e.start + within);
        if (got !== n) throw new IsoError(`${what}: short read at byte ${e.start + within}: got ${got} of ${n} bytes`);
      });
    },
  };
}

/** Returns the index of the last value in ascending `xs` that is <= `x` (0 when none). */
function lastAtOrBefore(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
