// The HTTP listener (app.ts builds the request handler it serves).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * Starts listening and resolves with the bound port. `backlog` is the kernel's accept queue: when
 * a storm's connections arrive faster than the event loop accepts them, those past it lose their
 * handshake, and the client's request is answered seconds later by a reset (the kernel clamps it
 * to net.core.somaxconn).
 */
export function listen(listener: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number, backlog = 511): Promise<{ server: Server; port: number }> {
  const server = createServer({ keepAlive: true }, listener);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog }, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
  });
}
