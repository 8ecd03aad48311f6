// Xen through `xl` on the dom0 (here, or over ssh), as the notes do by hand: the system's rendered
// xl config is written to <config_dir>/<domain>.cfg (install boot order, `dca` by default, while
// armed), the domain destroyed and created from it; once the install reports built the config
// is written again with the installed boot order (`c`) and `xl config-update` makes a running
// domain's next restart use it. Untested on a live dom0 (see README): the commands are checked
// against the rendered configs with a stand-in xl.
import { renameSync, writeFileSync } from 'node:fs';
import { PowerError } from '../errors.ts';
import { runOn, type Host } from './remote.ts';
import type { BootDevice, PowerDriver, PowerState, PowerTarget } from './types.ts';

export interface XenOptions {
  /** Returns the system's xl config as rendered now (install boot order while armed, disk once built). */
  config: () => Promise<string>;
  /** The xl executable on the dom0. */
  command?: string;
  /** The ssh executable here. */
  ssh?: string;
  sshOptions?: string[];
  commandTimeoutMs?: number;
}

/** xl's answer when a domain does not exist (so it is off, not failing). */
const NO_DOMAIN_RE = /invalid domain identifier|is an invalid domain|domain .* does not exist|not found/i;

/** Returns an xl driver for one domain. */
export function xenDriver(t: PowerTarget, o: XenOptions): PowerDriver {
  const domain = t.domain ?? t.system;
  const host: Host = { address: t.address, user: t.user, port: t.port };
  const what = `xen ${t.address ?? 'local'} domain ${domain}`;
  const file = `${t.configDir.replace(/\/+$/, '')}/${domain}.cfg`;
  const xl = o.command ?? 'xl';
  const exec = (argv: string[], input?: string) => runOn(host, argv, { what, input, ssh: o.ssh, sshOptions: o.sshOptions, timeoutMs: o.commandTimeoutMs });

  const status = async (): Promise<PowerState> => {
    try {
      await exec([xl, 'domid', domain]);
      return 'on';
    } catch (err) {
      if (err instanceof PowerError && NO_DOMAIN_RE.test(err.message)) return 'off';
      throw err;
    }
  };
  /** Writes the config as rendered now, atomically (a temporary file renamed over the old one). */
  const writeConfig = async () => {
    const text = await o.config();
    const tmp = `${file}.kickstand-new`;
    if (host.address === null) {
      try {
        writeFileSync(tmp, text, { mode: 0o600 }); // the config may hold a VNC password
        renameSync(tmp, file);
      } catch (err) {
        throw new PowerError(`${what}: cannot write ${file}: ${(err as Error).message}`);
      }
      return;
    }
    // Over ssh the remote shell runs this fixed script; the paths are its quoted arguments.
    await exec(['sh', '-c', 'umask 077 && cat > "$1" && mv -f "$1" "$2"', 'kickstand-write-config', tmp, file], text);
  };
  const create = async () => {
    await writeConfig();
    await exec([xl, 'create', file]);
  };
  const destroy = () => exec([xl, 'destroy', domain]);

  return {
    name: 'xen',
    status,
    async on() {
      if ((await status()) === 'off') await create();
    },
    async off() {
      if ((await status()) === 'on') await destroy();
    },
    async cycle() {
      // A restart keeps the config the domain was created with: destroy and create from the file.
      if ((await status()) === 'on') await destroy();
      await create();
    },
    async setNextBoot(_device: BootDevice) {
      // The boot order is the rendered config's (the profile's xen.boot_install while armed).
      await writeConfig();
    },
    async installDone() {
      await writeConfig();
      if ((await status()) === 'on') await exec([xl, 'config-update', domain, file]);
    },
  };
}
