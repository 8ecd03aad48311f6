// Power settings: what an operator sets per system (API, CLI, dashboard) and what a profile's
// `power` block gives as shared defaults; validated here, merged into a PowerTarget for a driver.
// Every value that reaches a command line is constrained to start with a letter or digit, so none
// can be taken for an option.
import { z } from 'zod';
import { BadRequestError } from '../errors.ts';
import { DEFAULT_XEN_CONFIG_DIR, POWER_DRIVERS, type BootDevice, type PowerDriverName, type PowerTarget } from './types.ts';

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[?[0-9A-Fa-f:.]+\]?)$/;
const URI_RE = /^[a-z][a-z0-9+]*:\/\/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The longest secret accepted (IPMI 2.0 passwords are at most 20 bytes; ssh and libvirt do not use one). */
export const MAX_SECRET_LENGTH = 128;

/** Returns whether a URI carries a password in its user part (`user:password@host`), which libvirt URIs never take. */
function uriHasPassword(s: string): boolean {
  const authority = /^[a-z][a-z0-9+]*:\/\/([^/?#]*)/.exec(s)?.[1] ?? '';
  const at = authority.lastIndexOf('@');
  return at >= 0 && authority.slice(0, at).includes(':');
}

const address = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => HOST_RE.test(s) || URI_RE.test(s), 'expected a host name, an IP address or a libvirt URI such as qemu:///system')
  // An address is shown in views and logs, never sealed: a password in it would be in plain sight.
  .refine((s) => !uriHasPassword(s), 'a libvirt URI names a user only (qemu+ssh://user@host/system); a password does not belong in it');
const user = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'expected a user name of letters, digits and . _ @ -');
const secret = z
  .string()
  .min(1)
  .max(MAX_SECRET_LENGTH)
  .regex(/^[\x20-\x7e]+$/, 'expected printable ASCII characters on one line');
const domain = z.string().regex(NAME_RE, 'expected a domain name of letters, digits and . _ -');
const configDir = z.string().regex(/^\/[A-Za-z0-9_.+/-]*$/, 'expected an absolute path of letters, digits and _ . + / -');

/** Fields a system and a profile share. */
const common = {
  driver: z.enum(POWER_DRIVERS),
  address,
  user,
  port: z.number().int().min(1).max(65535),
  domain,
  uefi: z.boolean(),
  boot: z.enum(['network', 'cd']),
  config_dir: configDir,
};

/** A system's own power settings (API body, CLI); null clears a field, a missing secret keeps the stored one. */
export const powerSettingsSchema = z
  .object({
    driver: common.driver.nullable().optional(),
    address: common.address.nullable().optional(),
    user: common.user.nullable().optional(),
    secret: secret.nullable().optional(),
    port: common.port.nullable().optional(),
    domain: common.domain.nullable().optional(),
    uefi: common.uefi.nullable().optional(),
    boot: common.boot.nullable().optional(),
    config_dir: common.config_dir.nullable().optional(),
  })
  .strict();
export type PowerSettingsInput = z.infer<typeof powerSettingsSchema>;

/** A profile's `power` block: shared defaults; the secret comes from a file only the service user reads. */
export const powerDefaultsSchema = z
  .object({
    driver: common.driver.optional(),
    address: common.address.optional(),
    user: common.user.optional(),
    secret_file: configDir.optional(),
    port: common.port.optional(),
    domain: common.domain.optional(),
    uefi: common.uefi.optional(),
    boot: common.boot.optional(),
    config_dir: common.config_dir.optional(),
  })
  .strict();
export type PowerDefaults = z.infer<typeof powerDefaultsSchema>;

/** Options kept beside driver, address, user and secret. */
export const OPTION_KEYS = ['port', 'domain', 'uefi', 'boot', 'config_dir'] as const;
export type PowerOptions = Partial<{ port: number; domain: string; uefi: boolean; boot: BootDevice; config_dir: string }>;

/** A system's stored settings, secret still sealed. */
export interface StoredPower {
  driver: PowerDriverName | null;
  address: string | null;
  user: string | null;
  /** Sealed by the SecretBox; null when none is set. */
  secret: string | null;
  options: PowerOptions;
}

/** Returns the options of an input, leaving out cleared (null) and missing ones. */
export function optionsOf(input: PowerSettingsInput): PowerOptions {
  const out: Record<string, unknown> = {};
  for (const k of OPTION_KEYS) if (input[k] !== undefined && input[k] !== null) out[k] = input[k];
  return out as PowerOptions;
}

/** Throws BadRequestError when the merged settings cannot work for their driver (a URI for ipmi, a secret for libvirt…). */
export function checkForDriver(driver: PowerDriverName | null, address: string | null, hasSecret: boolean, field = ''): void {
  const at = (k: string) => (field ? `${field}.${k}` : k);
  if (!driver || !address) return;
  const isUri = URI_RE.test(address) && !HOST_RE.test(address);
  if (driver === 'libvirt' && !isUri) throw new BadRequestError(`${at('address')}: the libvirt driver takes a connection URI such as qemu:///system, not ${JSON.stringify(address)}`, at('address'));
  if (driver !== 'libvirt' && isUri) throw new BadRequestError(`${at('address')}: the ${driver} driver takes a host name or IP address, not a URI`, at('address'));
  if (driver !== 'ipmi' && hasSecret) {
    throw new BadRequestError(`${at('secret')}: the ${driver} driver uses no password (it authenticates with ssh keys or the local socket)`, at('secret'));
  }
}

/** Returns the target a driver works on: the system's settings over the profile's defaults. */
export function mergeTarget(system: string, own: StoredPower | null, defaults: PowerDefaults | undefined, secret: string | null): Omit<PowerTarget, 'driver'> & { driver: PowerDriverName | null } {
  const d = defaults ?? {};
  const o = own?.options ?? {};
  return {
    system,
    driver: own?.driver ?? d.driver ?? null,
    address: own?.address ?? d.address ?? null,
    user: own?.user ?? d.user ?? null,
    secret,
    port: o.port ?? d.port ?? null,
    domain: o.domain ?? d.domain ?? null,
    uefi: o.uefi ?? d.uefi ?? false,
    boot: o.boot ?? d.boot ?? 'network',
    configDir: o.config_dir ?? d.config_dir ?? DEFAULT_XEN_CONFIG_DIR,
  };
}

/** Returns what operators may see of a system's settings: every field but the secret, which shows only as set or not. */
export function settingsView(own: StoredPower | null) {
  return {
    driver: own?.driver ?? null,
    address: own?.address ?? null,
    user: own?.user ?? null,
    secretSet: Boolean(own?.secret),
    port: own?.options.port ?? null,
    domain: own?.options.domain ?? null,
    uefi: own?.options.uefi ?? null,
    boot: own?.options.boot ?? null,
    config_dir: own?.options.config_dir ?? null,
  };
}
