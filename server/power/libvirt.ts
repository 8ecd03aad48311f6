// libvirt through virsh on a connection URI: domstate, start, destroy, reset, and the boot order
// of the install written into the domain's persistent XML (dumpxml, edit <os>, define). A new
// boot order takes effect on a cold start, so a cycle after changing it is destroy + start;
// otherwise a running domain is reset.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerError } from '../errors.ts';
import { run } from './exec.ts';
import { INSTALL_ORDER, INSTALLED_ORDER, withBootOrder, type LibvirtBootDev } from './libvirt-xml.ts';
import type { BootDevice, PowerDriver, PowerState, PowerTarget } from './types.ts';

/** domstate answers that mean the domain is not running. */
const OFF_STATES = new Set(['shut off', 'crashed']);

export interface LibvirtOptions {
  /** The virsh executable. */
  command?: string;
  commandTimeoutMs?: number;
}

/** Returns a libvirt driver for one domain. */
export function libvirtDriver(t: PowerTarget, o: LibvirtOptions = {}): PowerDriver {
  if (!t.address) throw new PowerError(`libvirt: system ${t.system} has no connection URI (address)`);
  const uri = t.address;
  const domain = t.domain ?? t.system;
  const what = `libvirt ${uri} domain ${domain}`;
  const virsh = (args: string[]) => run(o.command ?? 'virsh', ['--quiet', '-c', uri, ...args], { what, timeoutMs: o.commandTimeoutMs });
  /** Set when the persistent XML changed since the domain started: a reset would keep the old boot order. */
  let coldStartNeeded = false;

  const status = async (): Promise<PowerState> => {
    const { stdout } = await virsh(['domstate', '--domain', domain]);
    return OFF_STATES.has(stdout.trim()) ? 'off' : 'on';
  };
  const start = async () => {
    await virsh(['start', '--domain', domain]);
    coldStartNeeded = false;
  };
  const define = async (devs: readonly LibvirtBootDev[]) => {
    // --security-info keeps passwords (VNC, …) that a plain dump leaves out and define would drop.
    const { stdout } = await virsh(['dumpxml', '--inactive', '--security-info', '--domain', domain]);
    const dir = mkdtempSync(join(tmpdir(), 'ks-virsh-'));
    try {
      const file = join(dir, 'domain.xml');
      writeFileSync(file, withBootOrder(stdout, devs, what), { mode: 0o600 });
      await virsh(['define', '--file', file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    coldStartNeeded = true;
  };

  return {
    name: 'libvirt',
    status,
    async on() {
      if ((await status()) === 'off') await start();
    },
    async off() {
      if ((await status()) === 'on') await virsh(['destroy', '--domain', domain]);
    },
    async cycle() {
      if ((await status()) === 'off') return start();
      if (coldStartNeeded) {
        await virsh(['destroy', '--domain', domain]);
        return start();
      }
      await virsh(['reset', '--domain', domain]);
    },
    async setNextBoot(device: BootDevice) {
      await define(INSTALL_ORDER[device]);
    },
    async installDone() {
      await define(INSTALLED_ORDER);
    },
  };
}
