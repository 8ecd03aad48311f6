// Boot loaders over HTTP (`/boot/<name>`), for UEFI HTTP Boot clients and anything that fetches
// what DHCP named by URL: the same files TFTP serves, streamed from disk with their length.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ByteSource } from '../byte-source.ts';
import { NotFoundError } from '../errors.ts';

/** Where the HTTP path finds boot loaders (LoaderFiles implements it). */
export interface LoaderSource {
  open(name: string): Promise<ByteSource | null>;
}

/** Bytes read from disk per write while streaming a loader. */
export const LOADER_CHUNK_BYTES = 256 * 1024;

/** Sends the named boot loader (GET or HEAD); 404 when no such loader was found on this host. */
export async function serveLoader(req: IncomingMessage, res: ServerResponse, name: string, loaders: LoaderSource | undefined): Promise<void> {
  const src = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) ? await loaders?.open(name) : null;
  if (!src) throw new NotFoundError(`no boot loader named ${JSON.stringify(name)} on this server`);
  try {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': src.size,
      ...(src.mtime ? { 'last-modified': src.mtime.toUTCString() } : {}),
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    for (let offset = 0; offset < src.size && !res.destroyed; offset += LOADER_CHUNK_BYTES) {
      const chunk = await src.read(offset, LOADER_CHUNK_BYTES);
      if (!res.write(chunk)) await new Promise<void>((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
    }
    res.end();
  } finally {
    await src.close?.();
  }
}
