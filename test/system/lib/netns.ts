// Network namespaces for system tests: unique names, a veth pair between the host side and the
// namespace, and cleanup that deletes only what this process created.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Runs `ip` with args and returns stdout; throws with stderr on failure. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export interface Netns {
  /** Namespace name, unique to this test run (prefix `ks-`). */
  name: string;
  /** Runs a command inside the namespace and returns stdout. */
  exec(cmd: string, args: string[], options?: { timeout?: number; input?: string }): string;
  /** Starts a long-running command inside the namespace; it is killed by PID at cleanup. */
  spawn(cmd: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Kills what was spawned (by PID) and deletes the namespace. Safe to call twice. */
  cleanup(): void;
}

/** Returns a short unique name with the given prefix, safe for netns and interface names (<= 15 chars). */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`.slice(0, 15);
}

/** Creates a fresh network namespace with loopback up. */
export function createNetns(prefix = 'ks-'): Netns {
  const name = uniqueName(prefix);
  ip('netns', 'add', name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  const children: ChildProcess[] = [];
  let cleaned = false;
  return {
    name,
    exec(cmd, args, options) {
      return execFileSync('ip', ['netns', 'exec', name, cmd, ...args], {
        encoding: 'utf8',
        timeout: options?.timeout ?? 60_000,
        input: options?.input,
      });
    },
    spawn(cmd, args, options) {
      const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: 'pipe', ...options });
      children.push(child);
      return child;
    },
    cleanup() {
      if (cleaned) return;
      cleaned = true;
      for (const c of children) {
        if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
          try {
            process.kill(c.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
      try {
        ip('netns', 'del', name);
      } catch {
        /* already gone */
      }
    },
  };
}

/**
 * Links two namespaces with a veth pair and addresses each end (CIDR strings such as
 * `10.0.0.1/24`: these addresses live only inside the test's own namespaces).
 */
export function linkNetns(a: Netns, aAddr: string, b: Netns, bAddr: string): { aIf: string; bIf: string } {
  const aIf = uniqueName('ksa');
  const bIf = uniqueName('ksb');
  ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf);
  ip('link', 'set', aIf, 'netns', a.name);
  ip('link', 'set', bIf, 'netns', b.name);
  ip('-n', a.name, 'addr', 'add', aAddr, 'dev', aIf);
  ip('-n', b.name, 'addr', 'add', bAddr, 'dev', bIf);
  ip('-n', a.name, 'link', 'set', aIf, 'up');
  ip('-n', b.name, 'link', 'set', bIf, 'up');
  return { aIf, bIf };
}
