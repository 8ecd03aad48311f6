// Picks the driver for a target. The one place that knows every driver.
import { PowerError } from '../errors.ts';
import { ipmiDriver, type IpmiOptions } from './ipmi.ts';
import { libvirtDriver, type LibvirtOptions } from './libvirt.ts';
import { xenDriver, type XenOptions } from './xen.ts';
import type { PowerDriver, PowerTarget } from './types.ts';

/** Per-driver options (executables, timeouts), and the xl config source. */
export interface DriverOptions {
  ipmi?: IpmiOptions;
  libvirt?: LibvirtOptions;
  xen?: Omit<XenOptions, 'config'>;
  /** Returns the system's rendered xl config (needed by the xen driver only). */
  xenConfig?: () => Promise<string>;
}

/** Returns the driver for a target. */
export function createDriver(t: PowerTarget, o: DriverOptions = {}): PowerDriver {
  switch (t.driver) {
    case 'ipmi':
      return ipmiDriver(t, o.ipmi);
    case 'libvirt':
      return libvirtDriver(t, o.libvirt);
    case 'xen':
      if (!o.xenConfig) throw new PowerError(`xen: no xl config source for system ${t.system}`);
      return xenDriver(t, { ...o.xen, config: o.xenConfig });
  }
}

/** Creates a driver from a target; tests pass their own. */
export type DriverFactory = (t: PowerTarget, o: DriverOptions) => PowerDriver;
