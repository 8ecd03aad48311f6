// kickstand started as the real service (`kickstand serve`: real templates, profiles, SQLite, ISO
// catalog) in its own process, configured only through KICKSTAND_* variables, plus API helpers.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, start, waitFor, type Proc } from './procs.ts';

/** The repository root (bench/lib/../..). */
export const ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

export interface ServiceOptions {
  /** Working folder: var/ and isos/ are made under it unless KICKSTAND_ISOS_DIR is given. */
  dir: string;
  /** Extra KICKSTAND_* settings (names without the prefix: `HTTP__PORT`). */
  settings?: Record<string, string>;
  /** Where the HTTP API is reached from this process. */
  host?: string;
  port?: number;
  /** Write a V8 CPU profile here at exit (`node --cpu-prof`). */
  cpuProfileDir?: string;
  /** Run inside this network namespace (the API is then reached at host). */
  ns?: string;
  /** Run the TypeScript through tsx instead of the compiled build (tests must not depend on a build). */
  fromSource?: boolean;
}

/** A running service and how to reach its API. */
export interface Service {
  proc: Proc;
  base: string;
  logFile: string;
  /** The command line that started it, for the report. */
  command: string;
  /** The API bearer token it was started with. */
  adminToken: string;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** Returns the KICKSTAND_* settings of a service in dir and the environment that carries them. */
function serviceEnv(o: ServiceOptions, token: string): { settings: Record<string, string>; env: NodeJS.ProcessEnv } {
  mkdirSync(join(o.dir, 'var'), { recursive: true });
  mkdirSync(join(o.dir, 'isos'), { recursive: true });
  const settings: Record<string, string> = {
    DATA_DIR: join(o.dir, 'var'),
    ISOS_DIR: join(o.dir, 'isos'),
    HTTP__HOST: o.host ?? '127.0.0.1',
    HTTP__PORT: String(o.port ?? 8080),
    ...o.settings,
  };
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KICKSTAND_')) env[k] = v;
  for (const [k, v] of Object.entries(settings)) env[`KICKSTAND_${k}`] = v;
  env.KICKSTAND_AUTH__ADMIN_TOKEN = token;
  return { settings, env };
}

/**
 * Registers and arms many systems before the service starts, the way an operator does it
 * (`kickstand system import FILE`, a CSV with a build column); returns the seconds it took.
 */
export async function importArmed(o: ServiceOptions, rows: Array<{ name: string; mac: string; profile?: string }>): Promise<number> {
  const { env } = serviceEnv(o, randomBytes(16).toString('hex'));
  const csv = join(o.dir, 'systems.csv');
  writeFileSync(csv, `name,macs,profile,hostname,build\n${rows.map((r) => `${r.name},${r.mac},${r.profile ?? 'centos44-hvm'},${r.name},true`).join('\n')}\n`);
  const t0 = performance.now();
  const r = await run(process.execPath, ['bin/kickstand.js', 'system', 'import', csv], { env, cwd: ROOT, timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`kickstand system import exited ${r.code}: ${(r.stderr || r.stdout).slice(-2000)}`);
  return (performance.now() - t0) / 1000;
}

/** Starts `kickstand serve` and resolves once /healthz answers. */
export async function startService(o: ServiceOptions): Promise<Service> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 8080;
  const token = randomBytes(16).toString('hex');
  const { settings, env } = serviceEnv(o, token);
  // The compiled build, as it ships (bench/run.ts runs `npm run build` first when it is stale).
  const entry = o.fromSource ? ['--import', 'tsx', 'server/cli/main.ts'] : ['bin/kickstand.js'];
  const nodeArgs = [...(o.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`] : []), ...entry, 'serve'];
  const logFile = join(o.dir, 'kickstand.log');
  const proc = start('kickstand', process.execPath, nodeArgs, { env, cwd: ROOT, logFile, ns: o.ns });
  const base = `http://${host}:${port}`;
  const shown = Object.entries(settings).map(([k, v]) => [k, v.split(o.dir).join('$TMP')] as const);
  const command = `${shown.map(([k, v]) => `KICKSTAND_${k}=${/^[\w.:/$,-]+$/.test(v) ? v : `'${v}'`}`).join(' ')} node ${entry.join(' ')} serve`;
  await waitFor(
    async () => {
      if (!proc.alive()) throw new Error(`kickstand exited during start-up (${await proc.exited}); see ${logFile}`);
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    'kickstand /healthz',
    60_000,
  );
  return {
    proc,
    base,
    logFile,
    command,
    adminToken: token,
    async api<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
    },
    stop: () => proc.stop(),
  };
}

/** Registers an armed system on the notes' profile and returns its kickstart URL path (/ks/<token>). */
export async function registerArmed(svc: Service, name: string, mac: string, profile = 'centos44-hvm'): Promise<string> {
  const r = await svc.api<{ urls?: { kickstart?: string } }>('POST', '/api/v1/systems', { name, macs: [mac], hostname: name, profile, build: true });
  const url = r.body?.urls?.kickstart;
  if (r.status !== 201 || !url) throw new Error(`registering ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return new URL(url).pathname;
}

/** Returns the n-th benchmark MAC (locally administered 52:54:00 prefix). */
export function benchMac(n: number): string {
  return `52:54:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
}

/** One system as the API lists it (the fields the figures read). */
export interface ListedSystem {
  name: string;
  state: string;
  urls?: { kickstart?: string };
}

/** Returns every system the API lists for a query (`state=built`), following the cursor 1,000 at a time. */
export async function listAll(svc: Service, query = ''): Promise<ListedSystem[]> {
  const out: ListedSystem[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams(query);
    q.set('limit', '1000');
    if (cursor) q.set('cursor', cursor);
    const r = await svc.api<{ systems: ListedSystem[]; next_cursor: string | null }>('GET', `/api/v1/systems?${q}`);
    if (r.status !== 200) throw new Error(`listing systems: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...r.body.systems);
    cursor = r.body.next_cursor;
  } while (cursor);
  return out;
}
