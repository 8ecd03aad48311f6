// In-process cost of one kickstart *first* fetch through the real HTTP handler (real templates,
// profiles, SQLite store on disk, metrics, trust binding), with stand-in request/response objects:
// N armed systems, each fetched once, so every request reads its system and token from SQLite,
// binds the run, renders and records build → installing. Not part of `npm run bench`; run it
// with `node --cpu-prof` for a profile free of sockets and of other processes.
//   node --import tsx bench/first-fetch-path.ts [systems=5000]
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Artifacts } from '../server/boot/artifacts.ts';
import { Lifecycle } from '../server/boot/lifecycle.ts';
import { loadArtifactRenderer } from '../server/boot/renderer.ts';
import { createHttpHandler } from '../server/http/app.ts';
import { Metrics } from '../server/http/metrics.ts';
import { silentLogger } from '../server/log.ts';
import { ProfileRegistry } from '../server/profiles/registry.ts';
import { openSqliteStore } from '../server/store/sqlite.ts';
import { Trust } from '../server/boot/trust.ts';
import { ROOT } from './lib/kickstand.ts';
import { armSystems } from './lib/armed-store.ts';

const N = Number(process.argv[2] ?? 5000);
const BATCH = 64;
const log = silentLogger();
const dir = mkdtempSync(join(tmpdir(), 'ks-first-'));
// A second connection arms the systems, as `kickstand system import` does before the server starts.
const tokens = await armSystems(join(dir, 'kickstand.sqlite'), N, 'ff', 0x200000);
// As the server opens it: WAL checkpoints on a worker thread; the default trust policy (runs bound to their first address).
const store = openSqliteStore(join(dir, 'kickstand.sqlite'), { backgroundCheckpoint: true });
const registry = new ProfileRegistry(join(ROOT, 'profiles'), log);
const metrics = new Metrics();
const lifecycle = new Lifecycle({ store, log, onEvent: (s, e) => metrics.onLifecycleEvent(s, e), trust: new Trust({ store }) });
const artifacts = new Artifacts(registry, await loadArtifactRenderer(join(ROOT, 'templates'), log));
const handler = createHttpHandler({ lifecycle, registry, artifacts, adminToken: 'x'.repeat(32), log, metrics });

let pending = 0;
let settle: () => void = () => {};
let failures = 0;
/** A response that records the status and counts the request done at end(). */
class Res extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  setHeader(): void {}
  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }
  end(): void {
    if (this.statusCode !== 200) failures++;
    if (--pending === 0) settle();
  }
  destroy(): void {}
}

let next = 0;
/** Sends up to BATCH first fetches at once and resolves when all have ended. */
function batch(): Promise<void> {
  const n = Math.min(BATCH, N - next);
  pending = n;
  const done = new Promise<void>((r) => (settle = r));
  for (let i = 0; i < n; i++) {
    const req = { method: 'GET', url: `/ks/${tokens[next++]}`, headers: { host: '127.0.0.1:8080' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    handler(req, new Res() as unknown as ServerResponse);
  }
  return done;
}

await new Promise((r) => setTimeout(r, 1500)); // templates compiled in the background first
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
while (next < N) await batch();
const ns = Number(process.hrtime.bigint() - t0) / N;
const cpu = process.cpuUsage(c0);
await store.close();
rmSync(dir, { recursive: true, force: true });
if (failures > 0) throw new Error(`${failures} requests were not answered 200`);
console.log(`${N} first fetches: ${(ns / 1000).toFixed(1)} µs each (wall), ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU each; ${(1e9 / ns).toFixed(0)}/s on one core`);
