// A throwaway PostgreSQL server for system tests, from Debian's `postgresql` package: initdb into a
// temporary folder as the unprivileged `postgres` user, listening on a Unix socket in that folder
// (reachable from every network namespace, since it is a file) and on 127.0.0.1 at a free port,
// stopped by PID at the end.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensurePackages } from './apt.ts';

/** A running PostgreSQL and how to reach it. */
export interface TestPostgres {
  /** Folder holding the cluster and the socket. */
  dir: string;
  port: number;
  /** Folder of the Unix socket (`host=` in a URL). */
  socketDir: string;
  /** Server process id. */
  pid: number;
  /** Returns a connection URL for database db over the Unix socket. */
  url(db?: string): string;
  /** Returns a connection URL for database db over TCP on 127.0.0.1. */
  tcpUrl(db?: string): string;
  /** Creates an empty database and returns its socket URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL as the superuser in database db. */
  sql(text: string, db?: string): Promise<pg.QueryResult>;
  /** Stops the server (fast shutdown, then SIGKILL) and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server but keeps its folder, so start() can bring the same cluster back. */
  pause(): Promise<void>;
  /** Starts the server again after pause(). */
  start(): Promise<void>;
}

/** Returns the folder of the newest installed PostgreSQL's programs. */
export function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('postgresql is not installed (no /usr/lib/postgresql/<version>/bin)');
  return join(base, versions[0]!, 'bin');
}

/** Returns a TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Installs PostgreSQL if needed, creates a cluster in a temporary folder and starts it; onStart hears each server PID. */
export async function startPostgres(options: { onStart?: (pid: number) => void } = {}): Promise<TestPostgres> {
  ensurePackages(['postgresql']);
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'ks-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], { uid, gid, env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await freePort();
  let proc: ChildProcess | null = null;

  const start = async () => {
    const child = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200', '-c', 'logging_collector=off'],
      { uid, gid, env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4000);
    });
    proc = child;
    if (child.pid !== undefined) options.onStart?.(child.pid);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited at start (${child.exitCode}): ${stderr}`);
      const c = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
      try {
        await c.connect();
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  /** Stops the postgres process by its PID: SIGINT (fast shutdown), SIGKILL after 10 s. */
  const halt = async () => {
    const child = proc;
    proc = null;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  const url = (db = 'postgres') => `postgres://postgres@/${db}?host=${encodeURIComponent(dir)}&port=${port}`;
  let stopped = false;
  const sql = async (text: string, db = 'postgres') => {
    const c = new pg.Client({ host: dir, port, user: 'postgres', database: db });
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  };
  return {
    dir,
    port,
    socketDir: dir,
    get pid() {
      return proc?.pid ?? -1;
    },
    url,
    tcpUrl: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async createDatabase(name) {
      await sql(`CREATE DATABASE ${JSON.stringify(name)}`);
      return url(name);
    },
    sql,
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    pause: halt,
    start,
  };
}
