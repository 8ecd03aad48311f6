// Builds tiny ISO9660 images by hand for cases real tools make only at gigabyte sizes (multi-extent
// files with small, out-of-order extents): a primary descriptor, a terminator, one root directory.

const BS = 2048;

/** A file in the root directory; each piece is recorded as one extent. */
export interface SynthFile {
  name: string;
  pieces: Buffer[];
}

/** Returns a directory record (ECMA-119 9.1) for `id` at `block` with `size` bytes and `flags`. */
export function dirRecord(id: Buffer, block: number, size: number, flags: number): Buffer {
  const len = 33 + id.length + (id.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  r.writeUInt32LE(block, 2);
  r.writeUInt32BE(block, 6);
  r.writeUInt32LE(size, 10);
  r.writeUInt32BE(size, 14);
  r.set([124, 1, 2, 3, 4, 5, 0], 18); // 2024-01-02 03:04:05 UTC
  r[25] = flags;
  r.writeUInt16LE(1, 28);
  r.writeUInt16BE(1, 30);
  r[32] = id.length;
  id.copy(r, 33);
  return r;
}

/** Returns an image whose root holds `files`, their pieces laid out in reverse order. */
export function synthIso(files: SynthFile[]): Buffer {
  let next = 19;
  const placed: Array<{ file: SynthFile; blocks: number[] }> = files.map((file) => ({ file, blocks: [] }));
  const all = placed.flatMap((p) => p.file.pieces.map((piece, i) => ({ p, i, piece }))).reverse();
  const slots: Array<{ block: number; piece: Buffer }> = [];
  for (const { p, i, piece } of all) {
    p.blocks[i] = next;
    slots.push({ block: next, piece });
    next += Math.max(1, Math.ceil(piece.length / BS));
  }
  const img = Buffer.alloc(next * BS);
  const root = [dirRecord(Buffer.from([0]), 18, BS, 2), dirRecord(Buffer.from([1]), 18, BS, 2)];
  for (const { file, blocks } of placed) {
    file.pieces.forEach((piece, i) => {
      const last = i === file.pieces.length - 1;
      root.push(dirRecord(Buffer.from(`${file.name};1`), blocks[i]!, piece.length, last ? 0 : 0x80));
    });
  }
  Buffer.concat(root).copy(img, 18 * BS);
  for (const { block, piece } of slots) piece.copy(img, block * BS);
  const pvd = img.subarray(16 * BS, 17 * BS);
  pvd[0] = 1;
  pvd.write('CD001', 1, 'latin1');
  pvd[6] = 1;
  pvd.write('SYNTH'.padEnd(32, ' '), 40, 'latin1');
  pvd.writeUInt32LE(next, 80);
  pvd.writeUInt32BE(next, 84);
  pvd.writeUInt16LE(1, 120);
  pvd.writeUInt16BE(1, 122);
  pvd.writeUInt16LE(1, 124);
  pvd.writeUInt16BE(1, 126);
  pvd.writeUInt16LE(BS, 128);
  pvd.writeUInt16BE(BS, 130);
  dirRecord(Buffer.from([0]), 18, BS, 2).copy(pvd, 156);
  pvd[881] = 1;
  const term = img.subarray(17 * BS, 18 * BS);
  term[0] = 255;
  term.write('CD001', 1, 'latin1');
  term[6] = 1;
  return img;
}
