// Entry of a worker thread running transfers: a TransferHost wired to the thread's port.
import { parentPort, workerData } from 'node:worker_threads';
import type { ToHost, FromHost } from './host-protocol.ts';
import type { TransferTuning } from './settings.ts';
import { TransferHost } from './transfer-host.ts';

/** What the pool hands a worker at start. */
export interface WorkerInit {
  tuning: TransferTuning;
  counters: SharedArrayBuffer;
  running: SharedArrayBuffer;
}

const port = parentPort;
if (!port) throw new Error('tftp transfer worker: not started as a worker thread');
const init = workerData as WorkerInit;
const host = new TransferHost({ tuning: init.tuning, counters: new Float64Array(init.counters), running: new Int32Array(init.running) }, (msg: FromHost) => port.postMessage(msg));
port.on('message', (msg: ToHost) => host.onMessage(msg));
port.postMessage({ t: 'ready' } satisfies FromHost);
