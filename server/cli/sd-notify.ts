// Readiness for systemd (Type=notify). Node cannot send on a unix datagram socket without a native
// addon, so the state goes through systemd-notify(1), which systemd ships: with the unit's
// NotifyAccess=all, the service manager takes it from a child of the main process, and
// systemd-notify waits until the manager has read the message (it does unless --no-block).
import { execFile } from 'node:child_process';
import type { Logger } from '../log.ts';

/** How long one systemd-notify call may take before it is given up on. */
export const NOTIFY_TIMEOUT_MS = 5000;

export interface NotifyOptions {
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** The systemd-notify program. */
  command?: string;
  timeoutMs?: number;
}

/**
 * Sends state lines (`READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=…`) to the service manager
 * when NOTIFY_SOCKET is set; returns whether they were delivered (false, and nothing sent, when it is not set).
 */
export function sdNotify(lines: string[], o: NotifyOptions): Promise<boolean> {
  const env = o.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile(o.command ?? 'systemd-notify', lines, { env, timeout: o.timeoutMs ?? NOTIFY_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err) o.log.warn({ err: err.message, stderr: String(stderr).trim() }, `systemd notification ${lines.join(' ')} failed: ${err.message}`);
      resolve(!err);
    });
  });
}
