// The contract between the TFTP protocol and the policy that answers it: what a read request
// looks like to the handler, and how the handler's answer or failure is taken.
import type { ByteSource } from '../byte-source.ts';
import type { KickstandError } from '../errors.ts';
import { ERR } from './packet.ts';

/** A read request as the handler sees it; option names are lower-cased. */
export interface TftpRequest {
  filename: string;
  mode: 'octet' | 'netascii';
  remote: { address: string; port: number };
  options: Record<string, string>;
}

/** Returns the file to send, or null for "file not found"; throw a KickstandError to send its message as an ERROR packet. */
export type TftpHandler = (req: TftpRequest) => Promise<ByteSource | null>;

/** Returns the TFTP error code for a handler's KickstandError. */
export function tftpCodeFor(err: KickstandError): number {
  if (err.code === 'not_found') return ERR.FILE_NOT_FOUND;
  if (err.code === 'forbidden' || err.code === 'unauthorized') return ERR.ACCESS_VIOLATION;
  return ERR.NOT_DEFINED;
}

/** Returns the handler's answer, or throws when it fails or takes longer than timeoutMs (a late source is closed). */
export function callHandler(handler: TftpHandler, req: TftpRequest, timeoutMs: number): Promise<ByteSource | null> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`tftp handler did not answer ${JSON.stringify(req.filename)} within ${timeoutMs} ms`));
    }, timeoutMs);
    Promise.resolve()
      .then(() => handler(req))
      .then(
        (source) => {
          clearTimeout(timer);
          if (!settled) resolve(source ?? null);
          else if (source) void closeSource(source); // too late: nobody will read it
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (!settled) reject(err);
        },
      );
  });
}

/** Closes a source, ignoring its failure to close. */
export async function closeSource(source: ByteSource): Promise<void> {
  try {
    await source.close?.();
  } catch {
    /* nothing more to do with it */
  }
}
