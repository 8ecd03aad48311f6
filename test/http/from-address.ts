// A real listening server on 127.0.0.1 and a client that sends from any 127.x.y.z source address
// (all of 127/8 is on Linux's loopback), so trust rules meet real TCP peers with distinct addresses.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from '../../server/http/server.ts';

/** One answer, fully read. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or null when it is not JSON. */
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** Sends requests from one source address. */
export interface Client {
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  head(path: string): Promise<Reply>;
  post(path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<Reply>;
}

/** A server on loopback and clients by source address. */
export interface Loopback {
  port: number;
  from(address: string): Client;
  close(): Promise<void>;
}

/** Starts the handler on 127.0.0.1 (ephemeral port). */
export async function serveOnLoopback(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const { server } = await listen(handler, '127.0.0.1', 0);
  const port = (server.address() as AddressInfo).port;
  const send = (localAddress: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    new Promise<Reply>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, localAddress, method, path, headers: { connection: 'close', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Reply['json'];
          try {
            json = JSON.parse(text) as Reply['json'];
          } catch {
            json = null as never;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    port,
    from: (address) => ({
      get: (path, headers) => send(address, 'GET', path, undefined, headers),
      head: (path) => send(address, 'HEAD', path),
      post: (path, body, headers) => send(address, 'POST', path, body, headers),
    }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
