// The installed system's network line: which device it names and whether it is DHCP or static.
// A static line takes the system's own ip and the mask, gateway and name servers the profile gives,
// else the site's (the DHCP subnet kickstand serves), so one subnet definition serves both.
import { ProfileError } from '../errors.ts';
import type { Family, Profile } from '../profiles/schema.ts';
import type { RenderSystem } from './context.ts';

/** The site's subnet as kickstand's configuration describes it (dhcp.subnet). */
export interface SiteNetwork {
  network?: string;
  mask: string;
  router?: string;
  dns?: readonly string[];
}

/** What a kickstart's `network` line needs. */
export interface NetworkContext {
  /**
   * The device the line names. el4–el6: the profile's interface name (their kernels name NICs
   * eth0…, and ksdevice=bootif picks the install NIC). el7 and later: the NIC's MAC, which anaconda
   * takes as a device and which holds whatever the kernel calls the NIC (ens3, enp1s0 …); `link`
   * (the first NIC with a link) for a system without a MAC.
   */
  device: string;
  static: boolean;
  ip: string | null;
  netmask: string | null;
  gateway: string | null;
  /** Comma-separated name servers ('' for none). */
  nameservers: string;
}

const EL4_TO_6: readonly Family[] = ['el4', 'el5', 'el6'];

/** Returns an IPv4 address as a 32-bit number. */
function ipNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** Returns the network line of a system; throws ProfileError naming the field when a static line lacks its netmask or leaves the subnet. */
export function networkContext(o: { profile: Profile; family: Family; system: RenderSystem; mac: string | null; site: SiteNetwork | null }): NetworkContext {
  const { profile, family, system, mac, site } = o;
  const device = EL4_TO_6.includes(family) ? profile.network_device : (mac ?? 'link');
  const wantsStatic = profile.network.mode === 'static' && system.ip !== null;
  if (!wantsStatic) return { device, static: false, ip: null, netmask: null, gateway: null, nameservers: '' };
  const where = `system ${system.name}: profile ${profile.name}`;
  const netmask = profile.network.netmask ?? site?.mask ?? null;
  if (!netmask) throw new ProfileError(`${where}: network.netmask: a static address needs a netmask (set network.netmask in the profile or dhcp.subnet in kickstand.yaml)`, 'network.netmask');
  const gateway = profile.network.gateway ?? site?.router ?? null;
  const nameservers = profile.network.nameservers ?? site?.dns ?? [];
  const mask = ipNumber(netmask);
  const net = site?.network && !profile.network.netmask ? site.network : null;
  if (net && ((ipNumber(system.ip!) & mask) >>> 0) !== ((ipNumber(net) & mask) >>> 0)) {
    throw new ProfileError(`${where}: ip ${system.ip} is outside the subnet ${net}/${netmask}`, 'ip');
  }
  if (gateway && ((ipNumber(gateway) & mask) >>> 0) !== ((ipNumber(system.ip!) & mask) >>> 0)) {
    throw new ProfileError(`${where}: network.gateway ${gateway} is outside ${system.ip}/${netmask}`, 'network.gateway');
  }
  return { device, static: true, ip: system.ip, netmask, gateway, nameservers: nameservers.join(',') };
}
