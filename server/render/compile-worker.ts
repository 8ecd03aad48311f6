// Compiles templates to handlebars' JavaScript source on a worker thread. Turning a checked AST
// into code is handlebars' own tree walk and code generation, 10-70 ms for a kickstart with its
// partials inlined; done on the server's one loop after start-up, it held DHCP OFFERs, TFTP
// blocks and HTTP answers up to 70 ms a second after start (the DHCP latency probe's slow
// exchanges all fell there). The worker sends back each template's source; the loop only turns
// it into a function, which is V8 parsing a string.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/** One template to compile: its AST (partials inlined) and handlebars' compile options. */
export interface CompileJob {
  name: string;
  ast: unknown;
  options: Record<string, unknown>;
}

/** What the worker sends for one job: the template spec's source, or why it did not compile. */
export type CompileResult = { name: string; source: string } | { name: string; error: string };

// Plain CommonJS run with eval: the worker needs no TypeScript loader for a dozen lines.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const hb = require(workerData.handlebars).create();
// Lowest CPU priority for this thread only (Linux: a thread's id names it to setpriority), so on
// a small machine the compile takes no core from the loop or a client sharing the host.
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) require('node:os').setPriority(tid, 19);
} catch {}
parentPort.on('message', (job) => {
  if (job === null) return parentPort.close();
  try {
    const env = new hb.Compiler().compile(job.ast, job.options);
    parentPort.postMessage({ name: job.name, source: new hb.JavaScriptCompiler().compile(env, job.options) });
  } catch (err) {
    parentPort.postMessage({ name: job.name, error: String((err && err.message) || err) });
  }
});
`;

/**
 * Compiles templates on a worker thread, one at a time: next() gives the next job (null when there
 * is none left), onResult hears each answer. A job is made and copied to the worker only when the
 * one before is answered, so the loop pays for one template's AST at a time. onEnd is called once,
 * with null when every job was answered, else with why the worker stopped (the caller compiles
 * what is left itself).
 */
export function compileInWorker(next: () => CompileJob | null, onResult: (r: CompileResult) => void, onEnd: (failure: string | null) => void): void {
  let ended = false;
  let worker: Worker;
  const end = (failure: string | null) => {
    if (ended) return;
    ended = true;
    if (failure === null) worker.postMessage(null);
    else void worker.terminate();
    onEnd(failure);
  };
  try {
    const handlebars = createRequire(import.meta.url).resolve('handlebars');
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { handlebars } });
  } catch (err) {
    ended = true;
    onEnd(`template compile worker not started: ${(err as Error).message}`);
    return;
  }
  const send = () => {
    const job = next();
    if (job === null) return end(null);
    worker.postMessage(job);
  };
  worker.on('message', (r: CompileResult) => {
    onResult(r);
    if (!ended) send();
  });
  worker.on('error', (err) => end(`template compile worker failed: ${err.message}`));
  worker.on('exit', (code) => end(`template compile worker exited (${code})`));
  // After the listeners: a 'message' listener refs the worker's port again.
  worker.unref();
  send();
}
