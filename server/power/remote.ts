// Runs a command here or on another host over ssh. ssh hands its command to the remote shell as
// one string, so every argument is single-quoted for that shell here; locally there is no shell.
import { run, type RunOptions, type RunResult } from './exec.ts';

/** Where a command runs: this host, or a host reached with ssh (key authentication, no prompts). */
export interface Host {
  /** null: this host. */
  address: string | null;
  user: string | null;
  port: number | null;
}

/** Returns s quoted for a POSIX shell: single quotes, with embedded ones closed and escaped. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Returns the ssh arguments that run argv on host: options first, then `--`, the destination and one quoted command string. */
export function sshArgs(host: Host & { address: string }, argv: string[], sshOptions: string[] = []): string[] {
  return [
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    ...(host.port ? ['-p', String(host.port)] : []),
    ...(host.user ? ['-l', host.user] : []),
    ...sshOptions,
    '--',
    host.address,
    argv.map(shellQuote).join(' '),
  ];
}

/** Runs argv on host (directly here, or through ssh) and returns its output. */
export function runOn(host: Host, argv: string[], o: RunOptions & { ssh?: string; sshOptions?: string[] }): Promise<RunResult> {
  if (host.address === null) return run(argv[0]!, argv.slice(1), o);
  return run(o.ssh ?? 'ssh', sshArgs({ ...host, address: host.address }, argv, o.sshOptions), o);
}
