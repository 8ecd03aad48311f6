// `kickstand serve` on PostgreSQL, as operators run it: a store it cannot use stops start-up with one
// line; two instances on one database act as one (a kickstart armed on one is served by the other,
// and a report to one reaches the other's live dashboard within a second); and a database lost
// while running fails writes cleanly, keeps answering what it can, and recovers without a restart.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot } from './lib/apt.ts';
import { freePort, startPostgres, type TestPostgres } from './lib/postgres.ts';
import { ROOT, startService, type Service } from '../../bench/lib/kickstand.ts';

const skip = isRoot() || process.env.CI === 'true' ? false : 'needs root to run PostgreSQL as its own user';
let pg: TestPostgres | null = null;
let dir = '';
const services: Service[] = [];

before(async () => {
  if (skip) return;
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'ks-pgserve-'));
});

after(async () => {
  for (const s of services) await s.stop().catch(() => undefined);
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts `kickstand serve` (HTTP only, on loopback) on the given store URL. */
async function serve(name: string, url: string): Promise<Service> {
  const svc = await startService({
    dir: join(dir, name),
    port: await freePort(),
    fromSource: true,
    settings: { STORE__URL: url, TFTP__ENABLED: 'false', PROFILES_DIR: join(ROOT, 'profiles'), TEMPLATES_DIR: join(ROOT, 'templates') },
  });
  services.push(svc);
  return svc;
}

/** Runs `kickstand serve` expecting it to fail at start; returns its exit code and stderr. */
function failingServe(url: string): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KICKSTAND_')) env[k] = v;
  Object.assign(env, { KICKSTAND_STORE__URL: url, KICKSTAND_DATA_DIR: join(dir, 'failing'), KICKSTAND_HTTP__PORT: '0', KICKSTAND_TFTP__ENABLED: 'false', KICKSTAND_ISOS_DIR: join(dir, 'failing-isos') });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Logs in to the dashboard with the admin token and opens its live stream. */
async function liveStream(svc: Service, token: string): Promise<{ res: IncomingMessage; next: (match: (m: string) => boolean) => Promise<string> }> {
  const form = await fetch(`${svc.base}/ui/login`);
  const loginCookie = String(form.headers.get('set-cookie')).split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const r = await fetch(`${svc.base}/ui/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, token }).toString(),
  });
  const session = r.headers.getSetCookie().find((c) => c.startsWith('kickstand_session='))!.split(';')[0]!;
  const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${svc.base}/ui/events`, { headers: { cookie: session } }, resolve).on('error', reject));
  let buf = '';
  const seen: string[] = [];
  const waiting: Array<{ match: (m: string) => boolean; resolve: (m: string) => void }> = [];
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const msg = buf.slice(0, i);
      buf = buf.slice(i + 2);
      seen.push(msg);
      for (const w of [...waiting]) if (w.match(msg)) (waiting.splice(waiting.indexOf(w), 1), w.resolve(msg));
    }
  });
  return {
    res,
    next: (match) => {
      const hit = seen.find(match);
      return hit ? Promise.resolve(hit) : new Promise((resolve) => waiting.push({ match, resolve }));
    },
  };
}

/** Waits until check() holds, polling every 50 ms. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('kickstand serve on PostgreSQL', { skip }, () => {
  test('a store it cannot use stops start-up with one line on stderr and a non-zero exit', async () => {
    const ro = await pg!.createDatabase('readonly');
    await pg!.sql('ALTER DATABASE readonly SET default_transaction_read_only = on');
    const newer = await pg!.createDatabase('newer');
    await pg!.sql('CREATE TABLE kickstand_schema (version INTEGER NOT NULL); INSERT INTO kickstand_schema VALUES (999)', 'newer');
    const cases: Array<[string, string, RegExp]> = [
      ['wrong scheme', 'mysql://kick:pw@127.0.0.1/kickstand', /^kickstand: environment KICKSTAND_STORE__URL: store\.url: expected postgres:\/\//],
      ['unreachable', `postgres://kick:s3cret@127.0.0.1:${pg!.port + 1}/kickstand`, /^kickstand: store: cannot connect to PostgreSQL at postgres:\/\/kick:\*\*\*@127\.0\.0\.1:\d+\/kickstand: .*ECONNREFUSED/],
      ['read-only', ro, /^kickstand: store: PostgreSQL at .* is read-only/],
      ['newer schema', newer, /^kickstand: store: PostgreSQL at .* has schema version 999, newer than this kickstand knows/],
    ];
    for (const [what, url, expected] of cases) {
      const r = await failingServe(url);
      assert.notEqual(r.code, 0, `${what}: exit code`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
      assert.match(lines[0]!, expected, what);
      assert.ok(!r.stderr.includes('s3cret'), `${what}: no password in the message`);
    }
  });

  test("two instances on one database: one serves what the other armed, and a report to one reaches the other's live view within a second", async () => {
    const url = await pg!.createDatabase('pair');
    const [a, b] = await Promise.all([serve('a', url), serve('b', url)]);
    const created = await a.api<{ urls: { kickstart: string } }>('POST', '/api/v1/systems', { name: 'ng', macs: ['52:54:00:aa:00:01'], hostname: 'ng', profile: 'centos44-hvm', build: true });
    assert.equal(created.status, 201);
    const token = new URL(created.body.urls.kickstart).pathname.split('/').pop()!;
    const ks = await fetch(`${b.base}/ks/${token}`);
    assert.equal(ks.status, 200, 'B serves the kickstart A armed');
    assert.match(await ks.text(), /^url --url /m);
    const live = await liveStream(b, b.adminToken);
    await live.next((m) => m.includes(': connected'));
    const t0 = Date.now();
    assert.equal((await fetch(`${a.base}/events/${token}/partitioned`)).status, 200);
    const msg = await Promise.race([live.next((m) => m.startsWith('event: system') && m.includes('partitioned')), new Promise<string>((_, rej) => setTimeout(() => rej(new Error('no live event on B within 1 s')), 1000))]);
    assert.ok(Date.now() - t0 < 1000);
    const data = JSON.parse(msg.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
    assert.equal(data.system, 'ng');
    assert.equal(data.event.stage, 'partitioned');
    live.res.destroy();
    // The same built report to both at once: one transition, one event.
    const [r1, r2] = await Promise.all([fetch(`${a.base}/events/${token}/built`), fetch(`${b.base}/events/${token}/built`)]);
    assert.deepEqual([r1.status, r2.status], [200, 200]);
    const recorded = [(await r1.json()) as { recorded: boolean }, (await r2.json()) as { recorded: boolean }].filter((x) => x.recorded);
    assert.equal(recorded.length, 1);
    const events = await b.api<{ events: Array<{ stage: string }> }>('GET', '/api/v1/systems/ng/events');
    assert.deepEqual(events.body.events.map((e) => e.stage), ['armed', 'kickstart', 'partitioned', 'built']);
  });

  test('database lost while running: writes answer 503 and change nothing, cached boot answers keep coming, and it recovers without a restart', async () => {
    const url = await pg!.createDatabase('lost');
    const a = await serve('lost', url);
    const created = await a.api<{ urls: { kickstart: string } }>('POST', '/api/v1/systems', { name: 'ng', macs: ['52:54:00:aa:00:02'], hostname: 'ng', profile: 'centos44-hvm', build: true });
    const token = new URL(created.body.urls.kickstart).pathname.split('/').pop()!;
    assert.equal((await fetch(`${a.base}/ks/${token}`)).status, 200, 'first fetch: build → installing');
    await pg!.pause();
    try {
      await until(async () => (await fetch(`${a.base}/events/${token}/partitioned`)).status === 503, 15_000, 'a report answered 503');
      const r = await fetch(`${a.base}/events/${token}/formatted`);
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'unavailable');
      const again = await fetch(`${a.base}/ks/${token}`);
      assert.equal(again.status, 200, 'a repeat kickstart fetch needs no write: served from the cache');
      assert.equal((await fetch(`${a.base}/healthz`)).status, 200);
    } finally {
      await pg!.start();
    }
    await until(async () => (await fetch(`${a.base}/events/${token}/partitioned`)).status === 200, 15_000, 'reports accepted again');
    const events = await a.api<{ events: Array<{ stage: string }> }>('GET', '/api/v1/systems/ng/events');
    assert.deepEqual(events.body.events.map((e) => e.stage), ['armed', 'kickstart', 'partitioned']);
  });
});
