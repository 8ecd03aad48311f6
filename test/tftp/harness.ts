// Starts a TFTP server on 127.0.0.1 with an OS-chosen port over in-memory files, for tests.
import { randomBytes } from 'node:crypto';
import { bufferSource, type ByteSource } from '../../server/byte-source.ts';
import { captureLogger } from '../../server/log.ts';
import { TftpServer, type TftpServerOptions } from '../../server/tftp/index.ts';

export interface Harness {
  server: TftpServer;
  port: number;
  lines: () => Array<Record<string, unknown>>;
  close: () => Promise<void>;
}

/** Returns n random bytes (file contents whose every byte matters). */
export function randomFile(n: number): Buffer {
  return randomBytes(n);
}

/** Transfer threads the harness's servers use: KICKSTAND_TEST_TFTP_WORKERS (workers.test.ts runs the suites again with 2). */
export const TEST_WORKERS = Number(process.env.KICKSTAND_TEST_TFTP_WORKERS ?? 0);

/** Data path of the harness's servers: KICKSTAND_TEST_TFTP_ENGINE (workers.test.ts runs the suites again with native), else the JS one. */
export const TEST_ENGINE = (process.env.KICKSTAND_TEST_TFTP_ENGINE ?? 'js') as 'js' | 'native';

/** Starts a server answering from `files` (name → contents) unless a handler is given. */
export async function startServer(opts: Partial<TftpServerOptions> & { files?: Record<string, Buffer> } = {}): Promise<Harness> {
  const { files = {}, ...rest } = opts;
  const cap = captureLogger('debug');
  const server = new TftpServer({
    host: '127.0.0.1',
    port: 0,
    log: cap.log,
    timeoutMs: 1000,
    retries: 8,
    workers: TEST_WORKERS,
    engine: TEST_ENGINE,
    handler: async (req): Promise<ByteSource | null> => {
      const f = files[req.filename];
      return f ? bufferSource(f) : null;
    },
    ...rest,
  });
  const { port } = await server.listen();
  return { server, port, lines: cap.lines, close: () => server.close() };
}

/** Resolves once no transfer is in progress (the server has seen every final ACK). */
export function idle(server: TftpServer): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (server.stats().activeTransfers > 0) return;
      server.off('transfer', check);
      resolve();
    };
    server.on('transfer', check);
    check();
  });
}
