// The HTTP listener (app.ts builds the request handler it serves).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

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
