// Runs the power tools (ipmitool, virsh, xl, ssh) with argument arrays and never a shell: no value
// a user typed is ever parsed as shell syntax. Secrets travel in the environment or on stdin, and
// are scrubbed from any error text before it leaves this file.
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { PowerError } from '../errors.ts';

/** How long one power command may run before it is killed. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** Most output kept from one command (virsh dumpxml of a large domain fits). */
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** Most characters of a tool's error output quoted in an error message. */
const MAX_ERROR_CHARS = 400;

export interface RunOptions {
  /** Extra environment variables (e.g. IPMI_PASSWORD); the rest of the environment is kept. */
  env?: Record<string, string>;
  /** Written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
  /** Values that must never appear in an error message (the secret). */
  secrets?: Array<string | null | undefined>;
  /** Words naming the command in errors, e.g. `ipmi 10.0.0.5`. */
  what: string;
}

/** What a command printed. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Returns text with every secret replaced by "[redacted]". */
export function scrub(text: string, secrets: Array<string | null | undefined> = []): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}

/** Returns the last lines of a tool's output, trimmed to a readable length. */
function tail(text: string): string {
  const t = text.trim().split('\n').filter((l) => l.trim() !== '').slice(-4).join('; ');
  return t.length > MAX_ERROR_CHARS ? `…${t.slice(-MAX_ERROR_CHARS)}` : t;
}

/** Runs command with args (no shell) and resolves with its output; rejects with PowerError saying what failed and why. */
export function run(command: string, args: string[], o: RunOptions): Promise<RunResult> {
  const timeout = o.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env: { ...process.env, ...o.env }, timeout, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8', killSignal: 'SIGKILL', shell: false },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number | null };
        let why: string;
        if (e.code === 'ENOENT') why = `${command} is not installed (not found on PATH)`;
        else if (e.killed) why = `${basename(command)} gave no answer within ${timeout / 1000} s`;
        else why = tail(`${stderr}\n${stdout}`) || `${command} exited with ${String(e.code)}`;
        reject(new PowerError(scrub(`${o.what}: ${why}`, o.secrets)));
      },
    );
    child.stdin?.on('error', () => {
      /* the command may exit before reading its input; its exit status tells what happened */
    });
    child.stdin?.end(o.input ?? '');
  });
}
