// The power interface: what every driver (IPMI, libvirt, Xen xl) does for one machine. Nothing
// here knows who calls it; boot/ decides when a machine is cycled and what is recorded.

/** Drivers kickstand has. */
export const POWER_DRIVERS = ['ipmi', 'libvirt', 'xen'] as const;
export type PowerDriverName = (typeof POWER_DRIVERS)[number];

/** Power states a driver reports. */
export type PowerState = 'on' | 'off';

/** Operator actions on a machine's power. */
export const POWER_ACTIONS = ['status', 'on', 'off', 'cycle'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];

/** Where the next boot starts: the network (PXE) or the CD (the notes' `dca` route). */
export type BootDevice = 'network' | 'cd';

/** Everything a driver needs to reach one machine, after profile defaults and the system's own settings are merged. */
export interface PowerTarget {
  /** The system's name in kickstand (the default domain name for libvirt and xen). */
  system: string;
  driver: PowerDriverName;
  /** ipmi: BMC host; libvirt: connection URI; xen: dom0 host for ssh, or null to run xl here. */
  address: string | null;
  user: string | null;
  /** Plain secret, decrypted just before use; never logged, never put on a command line. */
  secret: string | null;
  /** ipmi: BMC UDP port; xen: ssh port. */
  port: number | null;
  /** libvirt/xen domain name when it differs from the system name. */
  domain: string | null;
  /** ipmi: ask for a UEFI boot (`options=efiboot`). */
  uefi: boolean;
  /** Next-boot device for a rebuild. */
  boot: BootDevice;
  /** xen: folder on the dom0 holding `<domain>.cfg`. */
  configDir: string;
}

/** One machine's power, as each driver implements it. Every method throws PowerError with the tool's own words on failure. */
export interface PowerDriver {
  readonly name: PowerDriverName;
  /** Returns whether the machine is on. */
  status(): Promise<PowerState>;
  /** Powers the machine on (nothing when it already is). */
  on(): Promise<void>;
  /** Powers the machine off hard (nothing when it already is). */
  off(): Promise<void>;
  /** Power-cycles the machine; a machine that is off is powered on. */
  cycle(): Promise<void>;
  /** Makes the next boot start from the network or the CD (once, where the hardware can). */
  setNextBoot(device: BootDevice): Promise<void>;
  /** Undoes install-only boot settings once the install reported built (boot from disk again). */
  installDone(): Promise<void>;
}

/** Default folder of xl configs on a dom0. */
export const DEFAULT_XEN_CONFIG_DIR = '/etc/xen';
