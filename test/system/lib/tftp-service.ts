// kickstand started as the real service inside a test's namespace, configured only through
// KICKSTAND_* variables, serving a folder over TFTP; plus a raw TFTP probe run from another
// namespace (test/system/lib/tftp-probe.ts) that reports which address each reply came from.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.ts';

/** The repository root. */
export const REPO = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');

export interface TftpService {
  dir: string;
  root: string;
  log(): string;
  stop(): void;
}

/** Starts `kickstand serve` in the namespace with TFTP on port 69 serving `root`; resolves once TFTP listens. */
export async function startTftpService(ns: Netns, settings: Record<string, string> = {}): Promise<TftpService> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-tftp-svc-'));
  const root = join(dir, 'root');
  for (const d of [root, join(dir, 'var'), join(dir, 'isos')]) mkdirSync(d);
  const logFile = join(dir, 'kickstand.log');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KICKSTAND_')) env[k] = v;
  Object.assign(env, {
    KICKSTAND_DATA_DIR: join(dir, 'var'),
    KICKSTAND_ISOS_DIR: join(dir, 'isos'),
    KICKSTAND_HTTP__HOST: '127.0.0.1',
    KICKSTAND_HTTP__PORT: '8080',
    KICKSTAND_TFTP__PORT: '69',
    KICKSTAND_TFTP__ROOTS: JSON.stringify([root]),
    KICKSTAND_LOG_LEVEL: 'info',
    ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [`KICKSTAND_${k}`, v])),
  });
  const { openSync } = await import('node:fs');
  const out = openSync(logFile, 'a');
  const child = ns.spawn('sh', ['-c', `exec "${process.execPath}" --import tsx server/cli/main.ts serve`], { cwd: REPO, env, stdio: ['ignore', out, out] });
  const log = () => readFileSync(logFile, 'utf8');
  const deadline = Date.now() + 60_000;
  while (!/TFTP listening/.test(log())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`kickstand did not start TFTP:\n${log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    dir,
    root,
    log,
    stop() {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What tftp-probe.ts saw: the address and port each reply came from, and the opcodes. */
export interface ProbeResult {
  replies: Array<{ from: string; port: number; opcode: number }>;
  bytes: number;
  error: string | null;
}

/** Runs the raw probe in a namespace: RRQ for `file` at server:69 with options, acknowledging everything. */
export function probeFrom(ns: Netns, server: string, file: string, options: Record<string, string> = {}): ProbeResult {
  const out = ns.exec(process.execPath, ['--import', 'tsx', join(REPO, 'test/system/lib/tftp-probe.ts'), server, file, JSON.stringify(options)], { timeout: 60_000 });
  return JSON.parse(out) as ProbeResult;
}
