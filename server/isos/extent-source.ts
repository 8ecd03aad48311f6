// A file inside an ISO as a ByteSource: reads map onto the file's extents (several for a
// multi-extent file), so any range streams straight from the image without loading the file.
import type { ByteSource } from '../byte-source.ts';
import { readExact } from './codec.ts';
import type { IsoEntry, IsoImage } from './types.ts';

/** Returns a ByteSource reading `entry`'s bytes out of `image`; `path` names it in errors. */
export function extentSource(image: IsoImage, entry: IsoEntry, path: string): ByteSource {
  const extents = entry.extents;
  const starts: number[] = [];
  let total = 0;
  for (const e of extents) {
    starts.push(total);
    total += e.length;
  }
  const size = entry.type === 'file' ? total : 0;
  return {
    size,
    mtime: entry.mtime,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`iso file '${path}': bad read offset ${offset}`);
      const end = Math.min(size, offset + Math.max(0, length));
      if (offset >= end) return Buffer.alloc(0);
      let i = lastAtOrBefore(starts, offset);
      const pieces: Buffer[] = [];
      let pos = offset;
      while (pos < end && i < extents.length) {
        const e = extents[i]!;
        const within = pos - starts[i]!;
        const n = Math.min(e.length - within, end - pos);
        if (n > 0) {
          pieces.push(await readExact(image, e.start + within, n, `iso file '${path}'`));
          pos += n;
        }
        i++;
      }
      return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
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
