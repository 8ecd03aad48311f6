// A private libvirtd for power tests: Debian's libvirtd (QEMU driver, TCG domains) started by the
// test inside a network namespace and a mount namespace of its own, with /etc/libvirt, /run/libvirt,
// /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt bound to a temporary folder, so it
// shares nothing with a libvirtd the host may run. Clients reach it through its socket path:
// `qemu:///system?socket=<dir>/run/libvirt-sock`. Its pid file is in that folder too, not the host's /run.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeScript } from './bmc.ts';
import type { Netns } from './netns.ts';

/** Debian packages of the daemon, its QEMU driver and virsh. */
export const LIBVIRT_PACKAGES = ['libvirt-daemon-system', 'libvirt-daemon-driver-qemu', 'libvirt-clients'];
const START_TIMEOUT_MS = 180_000;
const BOUND = { etc: '/etc/libvirt', run: '/run/libvirt', lib: '/var/lib/libvirt', cache: '/var/cache/libvirt', log: '/var/log/libvirt' } as const;

const QEMU_CONF = `# kickstand test: no users, cgroups, namespaces, seccomp or virtlogd inside a container.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
seccomp_sandbox = 0
stdio_handler = "file"
`;
const LIBVIRTD_CONF = `auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:stderr"
`;

/** A running private libvirtd. */
export interface Libvirtd {
  uri: string;
  dir: string;
  /** Runs virsh against it; never throws. */
  virsh(args: string[]): { code: number | null; out: string; err: string };
  /** Destroys every running domain, then stops the daemon (by PID). */
  stop(): Promise<void>;
}

/** Starts libvirtd in ns with its state under dir. */
export async function startLibvirtd(ns: Netns, dir: string): Promise<Libvirtd> {
  for (const k of Object.keys(BOUND)) mkdirSync(join(dir, k), { recursive: true });
  for (const p of Object.values(BOUND)) mkdirSync(p, { recursive: true }); // mount points (empty folders) on the host
  writeFileSync(join(dir, 'etc', 'qemu.conf'), QEMU_CONF);
  writeFileSync(join(dir, 'etc', 'libvirtd.conf'), LIBVIRTD_CONF);
  const start = writeScript(
    join(dir, 'start-libvirtd'),
    `#!/bin/sh
# Runs in a private mount namespace: bind the state folders, then become libvirtd.
set -e
r=$1
${Object.entries(BOUND).map(([k, p]) => `mount --bind "$r/${k}" ${p}`).join('\n')}
exec libvirtd -f /etc/libvirt/libvirtd.conf --pid-file "$r/libvirtd.pid"
`,
  );
  const logFile = join(dir, 'libvirtd.log');
  const out = openSync(logFile, 'w');
  const child: ChildProcess = ns.spawn('unshare', ['--mount', '--propagation', 'private', start, dir], { stdio: ['ignore', out, out] });
  closeSync(out);
  const uri = `qemu:///system?socket=${join(dir, 'run', 'libvirt-sock')}`;
  const virsh = (args: string[]) => {
    const r = spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const kill = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(existsSync(join(dir, 'run', 'libvirt-sock')) && virsh(['version']).code === 0)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      throw new Error(`libvirtd did not start (${child.exitCode === null ? 'timeout' : `exit ${child.exitCode}`}):\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    uri,
    dir,
    virsh,
    async stop() {
      for (const name of virsh(['list', '--name']).out.split('\n').filter(Boolean)) virsh(['destroy', name]);
      const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
      kill();
      const timer = setTimeout(() => {
        if (child.pid !== undefined) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
