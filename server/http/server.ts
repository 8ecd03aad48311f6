// The HTTP listener: the lean boot path first, then express for the API and dashboard.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Express } from 'express';

/** Returns a request listener that tries the lean routes before express. */
export function combine(lean: (req: IncomingMessage, res: ServerResponse) => boolean, app: Express) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (!lean(req, res)) app(req, res);
  };
}

/** Starts listening and resolves with the bound port. */
export function listen(listener: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer({ keepAlive: true }, listener);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
