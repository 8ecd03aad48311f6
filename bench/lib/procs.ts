// Processes a benchmark starts: each is tracked by PID, written to a PID file the orchestrator
// reads after the figure ends, and stopped by PID (SIGTERM, then SIGKILL) also when a figure fails.
import { spawn, execFile, type ChildProcess, type StdioOptions } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readFileSync } from 'node:fs';

/** One started process. */
export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** True while the process runs. */
  alive(): boolean;
  /** Sends SIGTERM, waits up to graceMs, then SIGKILL; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Sends SIGKILL and waits for the exit (a crash, for durability checks). */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Run inside this network namespace (through `ip netns exec`, which keeps the PID). */
  ns?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** File that receives stdout and stderr (else both are ignored). */
  logFile?: string;
  /** Keep stdout as a pipe (for hashing a download). */
  pipeStdout?: boolean;
}

const started = new Set<Proc>();
let pidFile: string | null = null;

/** Makes every later start() append its PID to file (the orchestrator kills leftovers by PID). */
export function recordPidsIn(file: string): void {
  pidFile = file;
}

/** Records a PID started outside start() (a server another helper spawned) so the orchestrator can stop it too. */
export function notePid(pid: number): void {
  if (pidFile) appendFileSync(pidFile, `${pid}\n`);
}

/** Returns the PIDs recorded in a PID file. */
export function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number).filter((n) => n > 1);
  } catch {
    return [];
  }
}

/** Returns argv prefixed to run inside a namespace when one is given. */
export function inNs(ns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** Starts a long-running process, tracked until it exits. */
export function start(name: string, cmd: string, args: string[], o: StartOptions = {}): Proc {
  const [file, argv] = inNs(o.ns, cmd, args);
  const fd = o.logFile ? openSync(o.logFile, 'a') : null;
  const out = o.pipeStdout ? 'pipe' : (fd ?? 'ignore');
  const stdio: StdioOptions = ['ignore', out, fd ?? 'ignore'];
  const child = spawn(file, argv, { stdio, env: o.env ?? process.env, cwd: o.cwd });
  if (fd !== null) closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const pid = child.pid;
  if (pidFile) appendFileSync(pidFile, `${pid}\n`);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', () => resolve('spawn error'));
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const proc: Proc = {
    name,
    pid,
    child,
    exited,
    alive,
    async stop(graceMs = 10_000) {
      if (alive()) signal(pid, 'SIGTERM');
      const t = setTimeout(() => alive() && signal(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
    async kill() {
      if (alive()) signal(pid, 'SIGKILL');
      await exited;
    },
  };
  started.add(proc);
  void exited.then(() => started.delete(proc));
  return proc;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Stops every process this module started and that still runs, by PID. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all([...started].map((p) => p.stop(graceMs)));
}

/** Kills every PID in the list that is still running (SIGKILL). */
export function killPids(pids: number[]): void {
  for (const pid of pids) signal(pid, 'SIGKILL');
}

/** What a finished command printed, its exit status and how long it took. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (inside ns when given); never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], o: { ns?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  const [file, argv] = inNs(o.ns, cmd, args);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = execFile(file, argv, { timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: o.env ?? process.env, cwd: o.cwd }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), ms: performance.now() - t0 });
    });
    if (child.pid !== undefined && pidFile) appendFileSync(pidFile, `${child.pid}\n`);
  });
}

/** Resolves when pred() holds (polled every 50 ms); rejects after limitMs naming what was awaited. */
export async function waitFor(pred: () => boolean | Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Returns the command line as one shell-like string, for the report. */
export function commandLine(cmd: string, args: string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
