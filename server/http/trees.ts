// Install trees straight out of ISOs at /trees/<distro>/<path>: a lean raw Node handler (no express)
// with GET/HEAD, single and multipart ranges (RFC 9110 14), validators and conditionals (RFC 9110
// 8.8, 13), HTML directory listings with relative links, and chunked reads that wait for the socket
// to drain, so memory stays flat however large the file or many the clients.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ByteSource } from '../byte-source.ts';
import { KickstandError, statusFor } from '../errors.ts';
import type { IsoEntry, ReadIntoSource } from '../isos/types.ts';
import type { Logger } from '../log.ts';
import { checkPreconditions, ifRangeAllows, parseRange, DEFAULT_MAX_RANGES, type ByteRange, type Validators } from './range.ts';

/** Bytes read from the image per step; two steps per transfer are in memory at most. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
/** Chunk buffers kept between responses for reuse (each DEFAULT_CHUNK_SIZE bytes). */
export const DEFAULT_IDLE_BUFFERS = 32;

/** What the handler needs of the ISO catalog (IsoCatalog fits). */
export interface TreeCatalog {
  stat(distro: string, path: string): Promise<IsoEntry | null>;
  listDir(distro: string, path: string): Promise<IsoEntry[] | null>;
  openFile(distro: string, path: string): Promise<ByteSource | null>;
  /** Changes whenever the distro's image does; undefined for an unknown distro. */
  identity(distro: string): string | undefined;
}

export interface TreesOptions {
  catalog: TreeCatalog;
  log: Logger;
  chunkSize?: number;
  maxRanges?: number;
  idleBuffers?: number;
}

/** Serves one tree request: `rawPath` is the still percent-encoded rest of the URL after /trees/<distro> ('' or starting with '/'). */
export type TreesHandler = (req: IncomingMessage, res: ServerResponse, distro: string, rawPath: string) => Promise<void>;

const TYPES: Record<string, string> = {
  '.rpm': 'application/x-rpm',
  '.xml': 'application/xml',
  '.gz': 'application/gzip',
  '.bz2': 'application/x-bzip2',
  '.xz': 'application/x-xz',
  '.zst': 'application/zstd',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.cfg': 'text/plain; charset=utf-8',
  '.treeinfo': 'text/plain; charset=utf-8',
  '.discinfo': 'text/plain; charset=utf-8',
};

/** Returns `{ distro, path }` for a URL under `prefix` (e.g. /trees/centos-4.4-i386/isolinux/vmlinuz?x), or null. */
export function splitTreeUrl(url: string, prefix = '/trees/'): { distro: string; path: string } | null {
  const pathname = url.split('?')[0]!;
  if (!pathname.startsWith(prefix)) return null;
  const rest = pathname.slice(prefix.length);
  const slash = rest.indexOf('/');
  const distro = slash < 0 ? rest : rest.slice(0, slash);
  return distro ? { distro, path: slash < 0 ? '' : rest.slice(slash) } : null;
}

/** Returns the decoded path components of `rawPath`, or null when it tries to escape or is malformed. */
export function decodeTreePath(rawPath: string): string[] | null {
  const parts: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '') continue;
    let name: string;
    try {
      name = decodeURIComponent(seg);
    } catch {
      return null;
    }
    if (name === '.' || name === '..' || /[/\\\0]/.test(name)) return null;
    parts.push(name);
  }
  return parts;
}

/** Returns the handler for /trees/<distro>/<path>. */
export function createTreesHandler(options: TreesOptions): TreesHandler {
  const { catalog, log } = options;
  const ctx: FileContext = {
    catalog,
    maxRanges: options.maxRanges ?? DEFAULT_MAX_RANGES,
    pool: new BufferPool(options.chunkSize ?? DEFAULT_CHUNK_SIZE, options.idleBuffers ?? DEFAULT_IDLE_BUFFERS),
  };
  return async (req, res, distro, rawPath) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      const parts = decodeTreePath(rawPath);
      if (!parts) return plain(res, 400, `bad tree path ${JSON.stringify(rawPath)}\n`);
      const identity = catalog.identity(distro);
      const path = `/${parts.join('/')}`;
      const entry = identity === undefined ? null : await catalog.stat(distro, path);
      if (!entry || (entry.type !== 'dir' && rawPath.endsWith('/'))) return plain(res, 404, `not found: ${distro}${rawPath}\n`);
      if (entry.type !== 'dir') return await serveFile(ctx, req, res, distro, path, entry, identity!);
      if (!rawPath.endsWith('/')) return redirectToSlash(req, res);
      const entries = (await catalog.listDir(distro, path)) ?? [];
      const dirs = new Set<string>();
      for (const e of entries) {
        const followed = e.type === 'symlink' ? await catalog.stat(distro, `${path === '/' ? '' : path}/${e.name}`).catch(() => null) : e;
        if (followed?.type === 'dir') dirs.add(e.name);
      }
      listing(req, res, distro, path, entries, dirs);
    } catch (err) {
      if (res.headersSent) {
        log.warn({ distro, path: rawPath, err: (err as Error).message }, 'trees: transfer aborted');
        res.destroy();
      } else if (err instanceof KickstandError) {
        log.warn({ distro, path: rawPath, err: err.message }, 'trees: request failed');
        plain(res, statusFor(err.code), `${err.message}\n`);
      } else {
        log.error({ distro, path: rawPath, err }, 'trees: request failed');
        plain(res, 500, 'internal error\n');
      }
    }
  };
}

/** What serving one file needs from the handler. */
interface FileContext {
  readonly catalog: TreeCatalog;
  readonly maxRanges: number;
  readonly pool: BufferPool;
}

/** Answers a GET/HEAD for a file: validators, preconditions (304/412), then 200, 206, multipart 206 or 416. */
async function serveFile(ctx: FileContext, req: IncomingMessage, res: ServerResponse, distro: string, path: string, entry: IsoEntry, identity: string): Promise<void> {
  // Strong: the bytes behind one image identity and extent never change (RFC 9110 8.8.3).
  const v: Validators = { etag: `"${identity}-${(entry.extents[0]?.start ?? 0).toString(16)}-${entry.size.toString(16)}"`, lastModified: entry.mtime };
  res.setHeader('ETag', v.etag);
  res.setHeader('Last-Modified', v.lastModified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  const failed = checkPreconditions(req.headers, v);
  if (failed) return end(res, failed);
  const source = await ctx.catalog.openFile(distro, path);
  if (!source) return plain(res, 404, `not found: ${distro}${path}\n`);
  try {
    const size = source.size;
    const range = ifRangeAllows(header(req, 'if-range'), v) ? parseRange(header(req, 'range'), size, ctx.maxRanges) : { kind: 'none' as const };
    const type = TYPES[extension(path)] ?? 'application/octet-stream';
    if (range.kind === 'unsatisfiable') return plain(res, 416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}` });
    if (range.kind === 'ranges' && range.ranges.length > 1) await multipart(req, res, source, range.ranges, type, ctx.pool);
    else {
      const r = range.kind === 'none' ? { start: 0, end: size - 1 } : range.ranges[0]!;
      res.statusCode = range.kind === 'none' ? 200 : 206;
      if (range.kind !== 'none') res.setHeader('Content-Range', `bytes ${r.start}-${r.end}/${size}`);
      res.setHeader('Content-Type', type);
      res.setHeader('Content-Length', String(r.end - r.start + 1));
      if (req.method === 'GET') await pumpFor(res, source, ctx.pool, r.end - r.start + 1)(r.start, r.end + 1);
    }
    if (!res.destroyed) res.end();
  } finally {
    await source.close?.().catch(() => undefined);
  }
}

/** Sends several ranges as multipart/byteranges (RFC 9110 14.6) with an exact Content-Length. */
async function multipart(req: IncomingMessage, res: ServerResponse, src: ByteSource, ranges: ByteRange[], type: string, pool: BufferPool): Promise<void> {
  const boundary = randomBytes(12).toString('hex');
  const heads = ranges.map(
    (r, i) => Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${src.size}\r\n\r\n`),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = heads.reduce((n, h, i) => n + h.length + ranges[i]!.end - ranges[i]!.start + 1, tail.length);
  res.statusCode = 206;
  res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  res.setHeader('Content-Length', String(length));
  if (req.method === 'HEAD') return;
  const pump = pumpFor(res, src, pool, Math.max(...ranges.map((r) => r.end - r.start + 1)));
  for (let i = 0; i < ranges.length && !res.destroyed; i++) {
    if (!res.write(heads[i])) await drained(res);
    await pump(ranges[i]!.start, ranges[i]!.end + 1);
  }
  if (!res.destroyed) res.write(tail);
}

/** Writes one byte range [start, end) of the file to the response. */
type Pump = (start: number, end: number) => Promise<void>;

/** Chunk buffers kept for reuse across responses, so transfers leave no garbage behind them. */
class BufferPool {
  readonly #free: Buffer[] = [];
  constructor(
    readonly size: number,
    readonly maxIdle: number,
  ) {}

  /** Returns a buffer of `size` bytes, reused when one is idle. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Takes a buffer back once nothing refers to it any more. */
  give(buf: Buffer): void {
    if (this.#free.length < this.maxIdle) this.#free.push(buf);
  }
}

/**
 * Returns a pump for one response: with readInto, two buffers serve the whole response (one being
 * sent while the next is read, reused once the socket has taken it) and go back to the pool when
 * the response closes; otherwise each chunk is a fresh buffer. Either way the pump waits for drain.
 */
function pumpFor(res: ServerResponse, src: ByteSource, pool: BufferPool, longest: number): Pump {
  const into = (src as Partial<ReadIntoSource>).readInto?.bind(src);
  if (!into) return (start, end) => pumpFresh(res, src, start, end, pool.size);
  const pooled = longest >= pool.size;
  const size = pooled ? pool.size : Math.max(1, longest);
  const bufs = pooled ? ([pool.take(), pool.take()] as const) : ([Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const);
  // flushed[k] settles when buffer k is free again: its write went out, or the response closed.
  // (Not Promise.race with a close promise per chunk: each race would stay attached to it.)
  const flushed: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  const waiting = new Set<() => void>();
  const closed = new Promise<void>((resolve) =>
    res.once('close', () => {
      for (const release of waiting) release();
      resolve();
    }),
  );
  const busy = (k: 0 | 1): (() => void) => {
    let release!: () => void;
    flushed[k] = new Promise<void>((resolve) => {
      release = () => {
        waiting.delete(release);
        resolve();
      };
    });
    waiting.add(release);
    return release;
  };
  let lastFill: Promise<unknown> = Promise.resolve();
  const fill = (k: 0 | 1, at: number, end: number): Promise<number> =>
    (lastFill = flushed[k]!.then(() => (res.destroyed ? 0 : into(bufs[k].subarray(0, Math.min(size, end - at)), at)))) as Promise<number>;
  if (pooled) {
    // After 'close' the socket holds none of our writes; a read already under way may still fill one.
    void closed.then(async () => {
      for (let f = lastFill; ; f = lastFill) {
        await f.catch(() => undefined);
        if (f === lastFill) break;
      }
      bufs.forEach((b) => pool.give(b));
    });
  }
  return async (start, end) => {
    let pos = start;
    let k: 0 | 1 = 0;
    let pending: Promise<number> | null = pos < end ? fill(k, pos, end) : null;
    while (pending) {
      const n = await pending;
      if (res.destroyed) return;
      if (n === 0) throw new Error(`short read at byte ${pos} of ${end}`);
      const view = bufs[k].subarray(0, n);
      pos += n;
      const other: 0 | 1 = k === 0 ? 1 : 0;
      pending = pos < end ? fill(other, pos, end) : null;
      pending?.catch(() => undefined); // rethrown when awaited, unless the client left first
      const release = busy(k);
      if (!res.write(view, () => release())) await drained(res);
      k = other;
    }
  };
}

/** Writes bytes [start, end) of `src` in fresh buffers, reading the next chunk while the last one goes out. */
async function pumpFresh(res: ServerResponse, src: ByteSource, start: number, end: number, chunk: number): Promise<void> {
  let pos = start;
  const next = () => (pos < end ? src.read(pos, Math.min(chunk, end - pos)) : null);
  let pending = next();
  while (pending) {
    const buf = await pending;
    if (res.destroyed) return;
    if (buf.length === 0) throw new Error(`short read at byte ${pos} of ${end}`);
    pos += buf.length;
    pending = next();
    pending?.catch(() => undefined);
    if (!res.write(buf)) await drained(res);
  }
}

/** Resolves when `res` can take more data or has closed. */
function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Sends a simple HTML index with relative links (what wget -r, curl and anaconda's url method follow); `dirs` get a trailing slash. */
function listing(req: IncomingMessage, res: ServerResponse, distro: string, path: string, entries: IsoEntry[], dirs: Set<string>): void {
  const title = escapeHtml(`Index of /trees/${distro}${path === '/' ? '/' : `${path}/`}`);
  const rows = [...entries]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => {
      const slash = dirs.has(e.name) ? '/' : '';
      const href = `${encodeURIComponent(e.name)}${slash}`;
      return `<a href="${escapeHtml(href)}">${escapeHtml(e.name + slash)}</a> ${e.mtime.toISOString()} ${slash ? '-' : e.size}`;
    });
  if (path !== '/') rows.unshift('<a href="../">../</a>');
  const body = Buffer.from(
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n<body><h1>${title}</h1>\n<pre>\n${rows.join('\n')}\n</pre></body></html>\n`,
  );
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Redirects a directory asked for without its trailing slash to the slash form (same query). */
function redirectToSlash(req: IncomingMessage, res: ServerResponse): void {
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  const location = q < 0 ? `${url}/` : `${url.slice(0, q)}/${url.slice(q)}`;
  plain(res, 301, `moved to ${location}\n`, { Location: location });
}

/** Sends a short text/plain answer. */
function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(text);
  res.removeHeader('Content-Range');
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/** Ends with a body-less status (304, 412), keeping the validators already set. */
function end(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.end();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function extension(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot).toLowerCase();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
