// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside whichever commit
// pushes the WAL past 1000 pages, and fsyncs the WAL and the database there: on the server's one
// loop that was a 6-60 ms stall every few hundred commits (at 8,000 lease writes/s, 9% of the
// time blocked, p99 commit 7 ms against 0.7 ms without it), holding DHCP OFFERs, TFTP blocks and
// HTTP answers behind it. So the server's connection turns the automatic checkpoint off, and a
// worker thread with a connection of its own runs PASSIVE checkpoints on an interval: those never
// wait for readers or writers, and whatever they fsync, they fsync on their own thread.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

/** How often the worker checkpoints (a WAL with nothing new costs a read lock and no fsync). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 200;
/** SQLite's own default, restored when the worker is gone. */
const AUTOCHECKPOINT_PAGES = 1000;

// Plain CommonJS run with eval: a worker needs no TypeScript loader for a dozen lines.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** Runs WAL checkpoints for one database file on a worker thread; stop() hands them back to the connection. */
export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private stopped = false;

  constructor(
    private readonly db: Database.Database,
    path: string,
    options: { intervalMs?: number; onError?: (message: string) => void } = {},
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path, intervalMs: options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS } });
    db.pragma('wal_autocheckpoint = 0');
    const fallBack = (why: string) => {
      if (this.stopped) return;
      this.stopped = true;
      // Without the worker the WAL must not grow forever: the connection checkpoints itself again.
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      options.onError?.(why);
    };
    this.worker.on('message', (m: { error?: string }) => m.error && options.onError?.(`wal checkpoint failed: ${m.error}`));
    this.worker.on('error', (err) => fallBack(`wal checkpoint worker failed: ${err.message}`));
    this.worker.on('exit', (code) => fallBack(`wal checkpoint worker exited (${code})`));
    // After the listeners: a 'message' listener refs the worker's port again.
    this.worker.unref();
  }

  /** Stops the worker and gives checkpoints back to the connection; resolves when the worker is gone. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((res) => this.worker.once('exit', () => res()));
    this.worker.postMessage('stop');
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
