// IPMI 2.0 over the LAN (`lanplus`) through ipmitool: chassis power status/on/off/cycle and the
// one-shot boot device (`chassis bootdev pxe`, with `options=efiboot` for UEFI machines). The
// password reaches ipmitool only through its environment (`-E` reads IPMI_PASSWORD).
import { PowerError } from '../errors.ts';
import { run } from './exec.ts';
import type { BootDevice, PowerDriver, PowerState, PowerTarget } from './types.ts';

/** Seconds ipmitool waits for each answer (-N) and how often it retries (-R): an unreachable BMC fails in about six seconds, not a minute. */
export const DEFAULT_IPMI_TIMEOUT_S = 2;
export const DEFAULT_IPMI_RETRIES = 2;

export interface IpmiOptions {
  /** The ipmitool executable (tests may point at another build). */
  command?: string;
  timeoutS?: number;
  retries?: number;
  /** Kill ipmitool after this long whatever it is doing. */
  commandTimeoutMs?: number;
}

/** Returns an IPMI driver for one BMC. */
export function ipmiDriver(t: PowerTarget, o: IpmiOptions = {}): PowerDriver {
  if (!t.address) throw new PowerError(`ipmi: system ${t.system} has no BMC address`);
  const host = t.address;
  const what = `ipmi ${host}${t.port ? `:${t.port}` : ''}`;
  const base = ['-I', 'lanplus', '-H', host, ...(t.port ? ['-p', String(t.port)] : []), '-N', String(o.timeoutS ?? DEFAULT_IPMI_TIMEOUT_S), '-R', String(o.retries ?? DEFAULT_IPMI_RETRIES)];
  // -E: the password comes from IPMI_PASSWORD; without a secret, an empty one (the BMC decides).
  const auth = [...(t.user ? ['-U', t.user] : []), '-E'];
  const env = { IPMI_PASSWORD: t.secret ?? '' };
  const ipmitool = (args: string[]) =>
    run(o.command ?? 'ipmitool', [...base, ...auth, ...args], { env, what, secrets: [t.secret], timeoutMs: o.commandTimeoutMs });

  const status = async (): Promise<PowerState> => {
    const { stdout } = await ipmitool(['chassis', 'power', 'status']);
    const m = /Chassis Power is (on|off)/i.exec(stdout);
    if (!m) throw new PowerError(`${what}: unexpected answer to chassis power status: ${JSON.stringify(stdout.trim().slice(0, 200))}`);
    return m[1]!.toLowerCase() as PowerState;
  };

  return {
    name: 'ipmi',
    status,
    async on() {
      await ipmitool(['chassis', 'power', 'on']);
    },
    async off() {
      await ipmitool(['chassis', 'power', 'off']);
    },
    async cycle() {
      // IPMI leaves "power cycle" of a machine that is off undefined (many BMCs refuse it): power it on instead.
      if ((await status()) === 'off') await ipmitool(['chassis', 'power', 'on']);
      else await ipmitool(['chassis', 'power', 'cycle']);
    },
    async setNextBoot(device: BootDevice) {
      const dev = device === 'cd' ? 'cdrom' : 'pxe';
      await ipmitool(['chassis', 'bootdev', dev, ...(t.uefi ? ['options=efiboot'] : [])]);
    },
    async installDone() {
      // bootdev without `persistent` applies to the next boot only: nothing to undo.
    },
  };
}
