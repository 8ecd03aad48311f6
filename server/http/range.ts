// Byte ranges and the validators that gate them: Range (RFC 9110 14.1–14.2), If-Range (13.1.5),
// and the preconditions If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since evaluated
// in the order of RFC 9110 13.2.2.

/** One satisfiable range, `end` inclusive (RFC 9110 14.1.1). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** How a Range header applies: ignored (send everything), ranges to send, or nothing satisfiable (416). */
export type RangeResult = { kind: 'none' } | { kind: 'ranges'; ranges: ByteRange[] } | { kind: 'unsatisfiable' };

/** Most ranges honoured in one request; past this the header is ignored (RFC 9110 14.2 allows it). */
export const DEFAULT_MAX_RANGES = 16;

/** Returns how `header` applies to a representation of `size` bytes; malformed headers are ignored. */
export function parseRange(header: string | undefined, size: number, maxRanges = DEFAULT_MAX_RANGES): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: 'none' }; // other units are ignored (14.2)
  const specs = m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0 || specs.length > maxRanges) return { kind: 'none' };
  const ranges: ByteRange[] = [];
  let requested = 0;
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return { kind: 'none' };
    if (r[1] === '') {
      const suffix = Number(r[2]);
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const first = Number(r[1]);
    const last = r[2] === '' ? Infinity : Number(r[2]);
    if (last < first) return { kind: 'none' }; // invalid range-spec: ignore the header (14.1.1)
    if (first < size) ranges.push({ start: first, end: Math.min(last, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  for (const r of ranges) requested += r.end - r.start + 1;
  if (ranges.length > 1 && requested > 2 * size) return { kind: 'none' }; // overlapping abuse: send it once
  return { kind: 'ranges', ranges };
}

/** The validators of one representation. */
export interface Validators {
  /** Strong entity tag, quoted, e.g. "abc-1f-800". */
  readonly etag: string;
  readonly lastModified: Date;
}

/** Request headers that carry preconditions. */
export interface PreconditionHeaders {
  readonly 'if-match'?: string;
  readonly 'if-none-match'?: string;
  readonly 'if-modified-since'?: string;
  readonly 'if-unmodified-since'?: string;
}

/** Returns 412 or 304 when a precondition fails for a GET/HEAD (RFC 9110 13.2.2), else null. */
export function checkPreconditions(h: PreconditionHeaders, v: Validators): 304 | 412 | null {
  const seconds = Math.floor(v.lastModified.getTime() / 1000);
  if (h['if-match'] !== undefined) {
    if (!matchesAny(h['if-match'], v.etag, true)) return 412;
  } else if (h['if-unmodified-since'] !== undefined) {
    const t = httpDate(h['if-unmodified-since']);
    if (t !== null && seconds > t) return 412;
  }
  if (h['if-none-match'] !== undefined) {
    if (matchesAny(h['if-none-match'], v.etag, false)) return 304;
  } else if (h['if-modified-since'] !== undefined) {
    const t = httpDate(h['if-modified-since']);
    if (t !== null && seconds <= t) return 304;
  }
  return null;
}

/** Returns whether Range may be honoured given If-Range (RFC 9110 13.1.5): absent, or matching strongly. */
export function ifRangeAllows(ifRange: string | undefined, v: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag; // weak tags never match
  const t = httpDate(value);
  return t !== null && t === Math.floor(v.lastModified.getTime() / 1000);
}

/** Returns whether a list of entity tags (or "*") matches `etag`, strongly or weakly (RFC 9110 8.8.3.2). */
function matchesAny(list: string, etag: string, strong: boolean): boolean {
  if (list.trim() === '*') return true;
  const opaque = (t: string) => t.replace(/^W\//, '');
  for (const raw of list.split(',')) {
    const tag = raw.trim();
    if (strong ? !tag.startsWith('W/') && tag === etag : opaque(tag) === opaque(etag)) return true;
  }
  return false;
}

/** Returns an HTTP-date in whole seconds since the epoch, or null when it does not parse. */
function httpDate(s: string): number | null {
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
