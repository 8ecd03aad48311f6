// Sequential readers over a ByteSource: plain octets, or netascii (RFC 1350 section 5 and RFC 764:
// every LF is sent as CR LF and every bare CR as CR NUL).
import type { ByteSource } from '../byte-source.ts';

/** Returns exactly `length` bytes following the previous call's, fewer only at the end. */
export type SequentialRead = (length: number) => Promise<Buffer>;

const CR = 0x0d;
const LF = 0x0a;

/** Returns the netascii form of a run of bytes: LF becomes CR LF, CR becomes CR NUL. */
export function toNetascii(input: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < input.length; i++) if (input[i] === CR || input[i] === LF) extra++;
  if (extra === 0) return input;
  const out = Buffer.allocUnsafe(input.length + extra);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR) {
      out[o++] = CR;
      out[o++] = 0;
    } else {
      out[o++] = b;
    }
  }
  return out;
}

/** Returns a reader of the source's bytes in order, from the start. */
export function octetReader(source: ByteSource): SequentialRead {
  let offset = 0;
  return async (length) => {
    const parts: Buffer[] = [];
    let got = 0;
    // ByteSource.read may return fewer bytes than asked only at the end; loop anyway in case a
    // source returns short reads, and stop on an empty read or at the announced size.
    while (got < length && !(offset >= source.size)) {
      let b = await source.read(offset, length - got);
      if (b.length === 0) break;
      if (b.length > length - got) b = b.subarray(0, length - got);
      parts.push(b);
      got += b.length;
      offset += b.length;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, got);
  };
}

/** Returns a reader of the source converted to netascii, from the start. */
export function netasciiReader(source: ByteSource): SequentialRead {
  const raw = octetReader(source);
  let pending: Buffer = Buffer.alloc(0);
  let eof = false;
  return async (length) => {
    while (pending.length < length && !eof) {
      const want = Math.max(64 * 1024, length);
      const chunk = await raw(want);
      if (chunk.length < want) eof = true;
      pending = pending.length === 0 ? toNetascii(chunk) : Buffer.concat([pending, toNetascii(chunk)]);
    }
    const out = pending.subarray(0, length);
    pending = pending.subarray(out.length);
    return out;
  };
}
