// In-process cost of one kickstart request through the real HTTP handler (real templates, profiles,
// SQLite store, metrics), with stand-in request/response objects so no socket or Node HTTP parsing is
// counted: what kickstand's own lean path costs per request, in ns. Not part of `npm run bench`.
//   node --import tsx bench/lean-path.ts
//   KICKSTAND_BENCH_STORE_URL=postgres://… node --import tsx bench/lean-path.ts   # on PostgreSQL (an empty database)
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
import { openPgStore } from '../server/store/postgres.ts';
import { ROOT } from './lib/kickstand.ts';

const BATCH = 64;
const log = silentLogger();
const dir = mkdtempSync(join(tmpdir(), 'ks-lean-'));
const pgUrl = process.env.KICKSTAND_BENCH_STORE_URL;
const store = pgUrl ? await openPgStore({ url: pgUrl }) : openSqliteStore(join(dir, 'kickstand.sqlite'));
const registry = new ProfileRegistry(join(ROOT, 'profiles'), log);
const metrics = new Metrics();
const lifecycle = new Lifecycle({ store, log, onEvent: (s, e) => metrics.onLifecycleEvent(s, e) });
const artifacts = new Artifacts(registry, await loadArtifactRenderer(join(ROOT, 'templates'), log));
const handler = createHttpHandler({ lifecycle, registry, artifacts, adminToken: 'x'.repeat(32), log, metrics });
await store.createSystem({ name: 'bench', macs: ['52:54:00:00:00:01'], hostname: 'bench', profile: 'centos44-hvm' }, Date.now());
const token = (await lifecycle.arm('bench', null)).token;

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
const req = { method: 'GET', url: `/ks/${token}`, headers: { host: '127.0.0.1:8080' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;

/** Sends BATCH requests at once and resolves when all have ended. */
function batch(): Promise<void> {
  pending = BATCH;
  const done = new Promise<void>((r) => (settle = r));
  for (let i = 0; i < BATCH; i++) handler(req, new Res() as unknown as ServerResponse);
  return done;
}

for (let i = 0; i < 200; i++) await batch();
const rounds: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 500; i++) await batch();
  rounds.push(Number(process.hrtime.bigint() - t0) / (500 * BATCH));
}
await store.close();
rmSync(dir, { recursive: true, force: true });
if (failures > 0) throw new Error(`${failures} requests were not answered 200`);
console.log(`ns per kickstart request, 5 rounds of ${500 * BATCH}: ${rounds.map((x) => x.toFixed(0)).join(' ')} (best ${Math.min(...rounds).toFixed(0)})`);
