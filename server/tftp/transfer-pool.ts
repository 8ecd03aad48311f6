// The threads that run transfers: worker threads (each opens its own transfer sockets; Node 20's
// dgram has no reusePort, so the listening thread takes every request and hands the transfer
// over), or, with no workers, a host on the listening thread itself; or the threads of the native
// engine (native-engine.ts), one host each. Each new transfer goes to the host running the fewest.
// A worker that dies is replaced; its transfers are reported failed.
import { Worker } from 'node:worker_threads';
import type { FromHost, ToHost } from './host-protocol.ts';
import { NativeEngine, nativeAddon } from './native-engine.ts';
import type { TransferTuning } from './settings.ts';
import { newCounterArray } from './stats.ts';
import { TransferHost } from './transfer-host.ts';
import type { WorkerInit } from './transfer-worker.ts';

/** How long close() waits for hosts to end their transfers before stopping the workers. */
const CLOSE_WAIT_MS = 2000;
/** How long a worker may take to start. */
const START_WAIT_MS = 30_000;

interface Host {
  post(msg: ToHost): void;
  counters: Float64Array;
  /** Transfers handed to this host and not yet ended. */
  load: number;
  worker: Worker | null;
  closed: Promise<void>;
  onClosed: () => void;
}

export interface PoolOptions {
  workers: number;
  /** Run transfers on the native engine's threads (max(1, workers) of them) instead of JS hosts. */
  native?: boolean;
  tuning: TransferTuning;
  /** Transfers in progress on all hosts (shared with them). */
  running: Int32Array;
  onMessage: (host: number, msg: FromHost) => void;
  /** A worker died: every transfer it ran is gone. */
  onLost: (host: number, err: Error) => void;
}

/** Starts and addresses the hosts that run transfers. */
export class TransferPool {
  private readonly hosts: Host[] = [];
  /** Counters of workers that died, still part of the totals. */
  private readonly retired: Float64Array[] = [];
  private closing = false;

  constructor(private readonly o: PoolOptions) {}

  /** Starts the hosts; resolves once every worker is ready. */
  async start(): Promise<void> {
    if (this.o.native) {
      this.startNative();
      return;
    }
    if (this.o.workers === 0) {
      this.hosts.push(this.inThread());
      return;
    }
    await Promise.all(Array.from({ length: this.o.workers }, (_, i) => this.spawn(i)));
  }

  /** Returns the host running the fewest transfers, counting the one about to be handed to it. */
  pick(): number {
    let best = 0;
    for (let i = 1; i < this.hosts.length; i++) if (this.hosts[i]!.load < this.hosts[best]!.load) best = i;
    this.hosts[best]!.load++;
    return best;
  }

  /** Notes that a transfer handed to a host has ended. */
  ended(host: number): void {
    const h = this.hosts[host];
    if (h && h.load > 0) h.load--;
  }

  /** Sends a message to a host. */
  post(host: number, msg: ToHost): void {
    this.hosts[host]?.post(msg);
  }

  /** Every host's counter array, dead workers' included. */
  counters(): Float64Array[] {
    return [...this.retired, ...this.hosts.map((h) => h.counters)];
  }

  /** Number of hosts (worker threads, or 1 on the listening thread). */
  get size(): number {
    return this.hosts.length;
  }

  /** Ends every transfer (clients are told) and stops the workers. */
  async close(): Promise<void> {
    this.closing = true;
    for (const h of this.hosts) h.post({ t: 'close' });
    await Promise.all(this.hosts.map((h) => Promise.race([h.closed, new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())])));
    await Promise.all(this.hosts.map((h) => h.worker?.terminate()));
  }

  private startNative(): void {
    const addon = nativeAddon();
    if (!addon) throw new Error('tftp native engine: native/tftpengine is not built (run node native/build.mjs)');
    const threads = Math.max(1, this.o.workers);
    const counters = Array.from({ length: threads }, () => newCounterArray(true));
    const engine = new NativeEngine(addon, { threads, tuning: this.o.tuning, counters, running: this.o.running, onMessage: (host, msg) => this.o.onMessage(host, msg) });
    for (let i = 0; i < threads; i++) {
      const host: Host = {
        post: (msg) => {
          engine.post(i, msg);
          if (msg.t === 'close') host.onClosed();
        },
        counters: counters[i]!,
        load: 0,
        worker: null,
        closed: Promise.resolve(),
        onClosed: () => {},
      };
      this.hosts.push(host);
    }
  }

  private inThread(): Host {
    let onClosed = () => {};
    const closed = new Promise<void>((r) => (onClosed = r));
    const counters = newCounterArray();
    // Messages go through the microtask queue both ways, as they would between threads: neither
    // side is re-entered from inside its own call.
    const host = new TransferHost({ tuning: this.o.tuning, counters, running: this.o.running }, (msg) =>
      queueMicrotask(() => {
        if (msg.t === 'closed') return onClosed();
        this.o.onMessage(0, msg);
      }),
    );
    return { post: (msg) => queueMicrotask(() => host.onMessage(msg)), counters, load: 0, worker: null, closed, onClosed };
  }

  private spawn(index: number): Promise<void> {
    const counters = newCounterArray(true);
    const init: WorkerInit = { tuning: this.o.tuning, counters: counters.buffer as SharedArrayBuffer, running: this.o.running.buffer as SharedArrayBuffer };
    const worker = startWorker(new URL(`./transfer-worker${WORKER_EXT}`, import.meta.url), init);
    let onClosed = () => {};
    const closed = new Promise<void>((r) => (onClosed = r));
    const host: Host = { post: (msg) => worker.postMessage(msg), counters, load: 0, worker, closed, onClosed };
    this.hosts[index] = host;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => reject(new Error(`tftp transfer worker ${index} did not start within ${START_WAIT_MS} ms`)), START_WAIT_MS);
      worker.on('message', (msg: FromHost) => {
        if (msg.t === 'ready') {
          ready = true;
          clearTimeout(timer);
          return resolve();
        }
        if (msg.t === 'closed') return host.onClosed();
        this.o.onMessage(index, msg);
      });
      let gone = false;
      const lost = (err: Error) => {
        if (gone) return;
        gone = true;
        host.onClosed();
        if (!ready) {
          clearTimeout(timer);
          return reject(err);
        }
        if (this.closing || this.hosts[index] !== host) return;
        this.retired.push(counters);
        this.o.onLost(index, err);
        void this.spawn(index).catch((e: unknown) => this.o.onLost(index, e as Error));
      };
      worker.on('error', lost);
      worker.on('exit', (code) => lost(new Error(`tftp transfer worker ${index} exited with code ${code}`)));
    });
  }
}

/**
 * The worker module's extension: `.ts` when this module runs from source (tsx), `.js` when compiled;
 * the build emits the worker beside the bundled CLI's chunks under the same name.
 */
const WORKER_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Starts a worker on a module; a TypeScript module gets tsx's loader registered in the worker first. */
function startWorker(url: URL, workerData: WorkerInit): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
