// kickstand started as the real service (`kickstand serve`: real templates, profiles, SQLite, ISO
// catalog) in its own process, configured only through KICKSTAND_* variables, plus API helpers.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { start, waitFor, type Proc } from './procs.ts';

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

/** Starts `kickstand serve` and resolves once /healthz answers. */
export async function startService(o: ServiceOptions): Promise<Service> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 8080;
  const token = randomBytes(16).toString('hex');
  mkdirSync(join(o.dir, 'var'), { recursive: true });
  mkdirSync(join(o.dir, 'isos'), { recursive: true });
  const settings: Record<string, string> = {
    DATA_DIR: join(o.dir, 'var'),
    ISOS_DIR: join(o.dir, 'isos'),
    HTTP__HOST: host,
    HTTP__PORT: String(port),
    ...o.settings,
  };
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KICKSTAND_')) env[k] = v;
  for (const [k, v] of Object.entries(settings)) env[`KICKSTAND_${k}`] = v;
  env.KICKSTAND_AUTH__ADMIN_TOKEN = token;
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
