// Builds the one plain, frozen object every template renders from. Pure: the caller passes the
// system, its resolved profile and distro, the base URL and the build token (null when the system
// is not armed: URLs then carry a placeholder and boot menus boot the local disk).
import { BadRequestError, ProfileError } from '../errors.ts';
import { deepFreeze } from '../merge.ts';
import { DISPLAY_NAME_RE, HOSTNAME_RE, NAME_RE, type Distro, type Family, type Profile } from '../profiles/schema.ts';
import { diskContexts, fstabLines, volumeGroupContexts, type DiskContext, type PartitionContext, type VolumeGroupContext } from './disks.ts';
import { networkContext, type NetworkContext, type SiteNetwork } from './network.ts';
import { libvirtContext, type LibvirtContext } from './libvirt.ts';

/**
 * What rendering needs of a system. The store's System has these fields and more; render/ knows
 * no store, so it names only what it reads.
 */
export interface RenderSystem {
  name: string;
  displayName?: string | null;
  hostname: string | null;
  macs: readonly string[];
  ip: string | null;
  build: boolean;
  state: string;
}

/** Token stand-in in URLs of a system that is not armed. */
export const UNARMED_TOKEN = 'not-armed';
/** Folder of disk images when a profile has no xen block (KVM guests). */
export const DEFAULT_IMAGE_DIR = '/var/lib/kickstand/images';

/** URLs a guest and its scripts use; see the URL contract in server/render/README.md. */
export interface RenderUrls {
  base: string;
  kickstart: string;
  install: string;
  rescue: string;
  /** Step reports go to `${events}/${stage}`. */
  events: string;
  booted: string;
  /** Install tree, ending in "/". */
  tree: string;
  /** The tree's stock/ folder (stock kernel, initrd, root tarball, GRUB stages), ending in "/". */
  stock: string;
  bootIpxe: string;
  /** Per-MAC iPXE script of this system (null without a MAC). */
  ipxe: string | null;
}

/** Everything a template may read. Plain data only; frozen. */
export interface RenderContext {
  /** name is the slug; displayName the name as the operator wrote it (the notes' NGTest-hvm), else the slug. */
  system: { name: string; displayName: string; hostname: string; macs: string[]; mac: string | null; macDashed: string | null; ip: string | null };
  profile: { name: string; description: string };
  family: {
    name: Family; el4: boolean; el5: boolean; el6: boolean; el7: boolean; el8: boolean; el9: boolean; el10: boolean; fedora: boolean;
    /** Generations: el6 and later (%end, --label everywhere), el7 and later (inst.* options, systemd), el8 and later (no install/auth, reqpart). */
    el6plus: boolean; el7plus: boolean; el8plus: boolean;
    legacyGrub: boolean;
  };
  /** title: the product name GRUB menus carry, as the distro's own installer writes it (CentOS, Rocky Linux …). */
  distro: { name: string; title: string; arch: string; installer: 'anaconda' | 'script'; script: boolean; iso: boolean; tftpKernel: string; tftpInitrd: string; httpKernel: string; httpInitrd: string };
  /**
   * The system is in build mode with a live token: menus install. Xen boots the CD first until the
   * system is built (a prepared disk has no GRUB before the rescue run), then its disk.
   */
  armed: boolean;
  urls: RenderUrls;
  /**
   * Installer kernel arguments (pxelinux APPEND and iPXE, after initrd=) and whether BOOTIF is
   * appended; cdArgs for a boot CD, where no BOOTIF exists (ksdevice names the profile's device).
   */
  boot: {
    args: string[]; ipappend: boolean; cdArgs: string[];
    /** The MAC the machine booted from (the iPXE request's), else its first; BOOTIF=01-… of it for iPXE. */
    mac: string | null; bootif: string | null;
  };
  settings: {
    language: string; keyboard: string; timezone: string; timezoneUtc: boolean; selinux: string; firewall: boolean;
    /** X layout for el7+ `--xlayouts` (keyboard's layout part: de-latin1 gives de), '' when none fits. */
    xlayout: string;
    rootPasswordHash: string | null; packages: string[]; kernelPackages: string[];
  };
  /** The installed system's network line: device, DHCP or static with address, mask, gateway, name servers. */
  network: NetworkContext;
  serial: { device: string; unit: number; speed: number; rootLogin: boolean; console: string } | null;
  disks: DiskContext[];
  /** LVM volume groups (empty without LVM); kickstand's own scripts do not apply to such profiles. */
  volumeGroups: VolumeGroupContext[];
  lvm: boolean;
  /** The root file system (for root on LVM: the volume, with disk = its volume group and no layout figures). */
  root: PartitionContext & { disk: string };
  swaps: Array<PartitionContext & { disk: string }>;
  /** The disk GRUB is installed on (BIOS disk 0) and where /boot sits on it. */
  grub: {
    disk: DiskContext; root: string; prefix: string; kernelArgs: string;
    /** Menu title before "(version)": the distro's product, as anaconda writes it. */
    title: string;
    /** /boot/grub/device.map lines: GRUB's BIOS disks and the guest's devices (hd0 the boot disk). */
    deviceMap: string[];
    /** Arguments of GRUB's `serial` command, '' without a serial console. */
    serial: string;
    /** /etc/inittab getty line for the serial console (el4/el5), else ''. */
    inittab: string;
  };
  /**
   * Firmware the system boots through (profile `firmware`): bios is true for bios and both, uefi
   * for uefi and both; gpt when the disks get a GUID partition table; the ESP and BIOS boot
   * partition with their disk; ovmf when a Xen/libvirt guest should get UEFI firmware.
   */
  firmware: {
    name: 'bios' | 'uefi' | 'both'; bios: boolean; uefi: boolean; both: boolean; gpt: boolean; ovmf: boolean;
    esp: (PartitionContext & { disk: string }) | null; biosboot: (PartitionContext & { disk: string }) | null;
  };
  /** Partitions with a file system to mount, shallowest first (/ before /boot), with their disk. */
  mounts: Array<PartitionContext & { disk: string }>;
  /** The same, deepest first, for unmounting. */
  unmounts: Array<PartitionContext & { disk: string }>;
  fstab: string[];
  /** Labelled ext and swap partitions, for scripts that make sure each carries its label (rescue). */
  labelled: Array<{ disk: string; number: number; device: string; kind: 'ext' | 'swap'; label: string }>;
  kickstart: {
    template: string; drives: string; bootloaderAppend: string;
    /** Labels the family's kickstart cannot give (el4 part, el4–el6 logvol have no --label): %post sets them. */
    postLabels: Array<{ device: string; kind: 'ext' | 'swap'; label: string }>;
    /** Install from the CD (the distro has neither an ISO kickstand serves nor a URL). */
    cdrom: boolean;
  };
  xen: {
    name: string; memory: number; vcpus: number; shadowMemory: number; bridge: string; mac: string | null;
    vnc: { enabled: boolean; listen: string; password: string | null }; serial: string; stdvga: boolean; boot: string;
    backend: 'file' | 'phy'; disks: Array<{ vdev: string; target: string }>; cdrom: string | null;
    /** HVM firmware: 'ovmf' for a uefi profile, null for Xen's default (SeaBIOS). */
    bios: string | null;
  } | null;
  /** The libvirt domain of the same guest (from the xen block), null without one. */
  libvirt: LibvirtContext | null;
}

export interface ContextInput {
  system: RenderSystem;
  profile: Profile;
  distro: Distro;
  urls: { base: string };
  token: string | null;
  /** The MAC the request came from (iPXE's /ipxe/<mac>); must be one of the system's. */
  bootMac?: string | null;
  /** Site network settings (the DHCP subnet) a static network line takes its mask, gateway and name servers from. */
  site?: SiteNetwork | null;
}

const EL4_TO_6 = new Set<Family>(['el4', 'el5', 'el6']);
const ORDER: readonly Family[] = ['el4', 'el5', 'el6', 'el7', 'el8', 'el9', 'el10', 'fedora'];
/** Returns whether family is first or a later generation. */
const atLeast = (family: Family, first: Family): boolean => ORDER.indexOf(family) >= ORDER.indexOf(first);

/** Product names by the first word of a distro slug, as each distro's installer titles its boot entries. */
const TITLES: Readonly<Record<string, string>> = {
  centos: 'CentOS', 'centos-stream': 'CentOS Stream', rhel: 'Red Hat Enterprise Linux', rocky: 'Rocky Linux', almalinux: 'AlmaLinux',
  alma: 'AlmaLinux', sl: 'Scientific Linux', ol: 'Oracle Linux', fedora: 'Fedora',
};

/** Returns the product title of a distro: its own `title`, else from its slug (centos-4.4-i386 → CentOS), else the slug. */
export function distroTitle(distro: Pick<Distro, 'name'> & { title?: string }): string {
  if (distro.title) return distro.title;
  const stream = /^centos-stream/.test(distro.name) ? 'centos-stream' : distro.name.split('-')[0]!;
  return TITLES[stream] ?? distro.name;
}

/** Console keymaps whose X layout is not their first letters (system-config-keyboard's table). */
const XLAYOUT_OF_KEYMAP: Readonly<Record<string, string>> = { uk: 'gb', sv: 'se', 'sv-latin1': 'se', jp106: 'jp', 'br-abnt2': 'br', 'la-latin1': 'latam', sg: 'ch', 'sg-latin1': 'ch', 'fr_CH': 'ch', 'cz-us-qwertz': 'cz', 'slovene': 'si', 'croat': 'hr' };

/** Returns the X layout of a console keymap: the profile's, else a known mapping, else the keymap's letters before a "-" (de-latin1 → de), else ''. */
export function xLayoutOf(keyboard: string, explicit?: string): string {
  if (explicit) return explicit;
  const known = XLAYOUT_OF_KEYMAP[keyboard];
  if (known) return known;
  const m = /^([a-z]{2,})(?:[-_.][A-Za-z0-9_.-]*)?$/.exec(keyboard);
  return m ? m[1]! : '';
}

/** Returns how many folders deep a mount point is (/ is 0). */
function depth(mount: string): number {
  return mount.split('/').filter(Boolean).length;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;
const BASE_RE = /^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[A-Za-z0-9._~\/-]*)?$/;

/** Throws BadRequestError unless the system's own values are the shapes the store promises (a second line of defence). */
function checkInput({ system, urls, token, bootMac }: ContextInput): void {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new BadRequestError(`render context: ${field} ${JSON.stringify(value)}: expected ${want}`, field);
  };
  if (!NAME_RE.test(system.name)) bad('system.name', system.name, 'a lowercase name');
  if (system.hostname !== null && !HOSTNAME_RE.test(system.hostname)) bad('system.hostname', system.hostname, 'an RFC 1123 host name');
  system.macs.forEach((m, i) => MAC_RE.test(m) || bad(`system.macs[${i}]`, m, 'a lowercase colon-separated MAC'));
  if (token !== null && !TOKEN_RE.test(token)) bad('token', '[redacted]', 'letters, digits, "_" or "-"');
  if (!BASE_RE.test(urls.base)) bad('urls.base', urls.base, 'an http(s) URL without query, spaces or quotes');
  if (system.displayName != null && (!DISPLAY_NAME_RE.test(system.displayName) || system.displayName.toLowerCase() !== system.name)) bad('system.displayName', system.displayName, `a spelling of ${system.name}`);
  if (bootMac != null && !system.macs.includes(bootMac)) bad('bootMac', bootMac, 'one of the system\'s MACs');
}

/** Returns why the installer cannot set up the firmware on this distro's family, or null when it can. */
export function firmwareRefusal(firmware: Profile['firmware'], distro: Pick<Distro, 'installer' | 'family'>): string | null {
  const fw = firmware ?? 'bios';
  if (fw === 'bios') return null;
  if (distro.installer === 'script') return fw === 'both' ? "the script installer's GRUB legacy cannot boot a GPT disk from BIOS; use firmware uefi or bios" : null;
  if (distro.family === 'el4' || distro.family === 'el5') return 'anaconda before RHEL 6 installs no UEFI boot loader; use firmware bios';
  if (distro.family === 'el6' && fw === 'both') return 'RHEL 6 cannot make one disk boot from both BIOS and UEFI; use firmware uefi or bios';
  return null;
}

/** Throws ProfileError when the installer cannot set up the profile's firmware on this distro's family. */
function checkFirmware(profile: Profile, distro: Distro): void {
  const why = firmwareRefusal(profile.firmware, distro);
  if (why) throw new ProfileError(`profile ${profile.name} (firmware ${profile.firmware ?? 'bios'}) with distro ${distro.name}: ${why}`);
}

/** Returns the render context of a system (pure; throws ProfileError when its disks cannot be laid out, BadRequestError on malformed system values). */
export function buildContext(input: ContextInput): RenderContext {
  checkInput(input);
  const { system, profile, distro, urls, token } = input;
  checkFirmware(profile, distro);
  const family = distro.family;
  const armed = system.build && token !== null;
  const base = urls.base.replace(/\/+$/, '');
  const t = token ?? UNARMED_TOKEN;
  const tree = distro.iso !== undefined || distro.url === undefined ? `${base}/trees/${distro.name}/` : distro.url.replace(/\/*$/, '/');
  const mac = system.macs[0] ?? null;
  const bootMac = input.bootMac ?? mac;
  const events = `${base}/events/${t}`;
  const u: RenderUrls = {
    base,
    kickstart: `${base}/ks/${t}`,
    install: `${base}/scripts/${t}/install.sh`,
    rescue: `${base}/scripts/${t}/rescue.sh`,
    events,
    booted: `${events}/booted`,
    tree,
    stock: `${tree}stock/`,
    bootIpxe: `${base}/boot.ipxe`,
    ipxe: mac ? `${base}/ipxe/${mac}` : null,
  };
  const serial = profile.serial
    ? { device: profile.serial.device, unit: Number(profile.serial.device.slice(4)), speed: profile.serial.speed, rootLogin: profile.serial.root_login, console: `${profile.serial.device},${profile.serial.speed}` }
    : null;
  const xen = profile.xen;
  const disks = diskContexts(profile, family, { backend: xen?.disk_backend ?? 'file', dir: xen?.disk_dir ?? DEFAULT_IMAGE_DIR, system: system.name });
  const located = disks.flatMap((d) => d.partitions.map((p) => ({ ...p, disk: d.name })));
  const volumeGroups = volumeGroupContexts(profile, family, disks);
  const root = located.find((p) => p.role === 'root') ?? lvRoot(volumeGroups);
  const bootPart = located.find((p) => p.role === 'boot') ?? root;
  const grubDisk = disks.find((d) => d.name === bootPart.disk)!;
  const biosOrder = [grubDisk, ...disks.filter((d) => d !== grubDisk)];
  const mounts = located.filter((p) => p.mount !== null && !p.isSwap).sort((a, b) => depth(a.mount!) - depth(b.mount!));
  const consoleArgs = serial ? [`console=${serial.console}`] : [];
  const installedArgs = ['ro', `root=${root.spec}`, ...(serial ? ['console=tty0', `console=${serial.console}`] : []), ...profile.kernel_args];

  const bootArgs: string[] = [];
  let ipappend = false;
  if (distro.installer === 'script') bootArgs.push(`kickstand.script=${u.install}`);
  else if (EL4_TO_6.has(family)) {
    bootArgs.push(`ks=${u.kickstart}`, 'kssendmac', 'ksdevice=bootif');
    ipappend = true;
  } else bootArgs.push(`inst.ks=${u.kickstart}`, 'inst.ks.sendmac', `inst.repo=${tree}`);
  bootArgs.push(...consoleArgs);
  const labelled = located
    .filter((p) => p.label !== null && (p.isExt || p.isSwap))
    .map((p) => ({ disk: p.disk, number: p.number, device: p.device, kind: p.isSwap ? ('swap' as const) : ('ext' as const), label: p.label! }));
  const lvLabels = volumeGroups
    .flatMap((g) => g.volumes)
    .filter((v) => v.label !== null && (v.isSwap || /^ext[234]$/.test(v.fstype)))
    .map((v) => ({ device: v.device, kind: v.isSwap ? ('swap' as const) : ('ext' as const), label: v.label! }));
  const postLabels = family === 'el4' ? [...labelled.map(({ device, kind, label }) => ({ device, kind, label })), ...lvLabels] : EL4_TO_6.has(family) ? lvLabels : [];
  const network = networkContext({ profile, family, system, mac, site: input.site ?? null });

  const ctx: RenderContext = {
    system: {
      name: system.name, displayName: system.displayName ?? system.name, hostname: system.hostname ?? system.name, macs: [...system.macs], mac,
      macDashed: mac ? mac.replace(/:/g, '-') : null, ip: system.ip,
    },
    profile: { name: profile.name, description: profile.description ?? '' },
    family: {
      name: family, el4: family === 'el4', el5: family === 'el5', el6: family === 'el6', el7: family === 'el7', el8: family === 'el8', el9: family === 'el9',
      el10: family === 'el10', fedora: family === 'fedora', el6plus: atLeast(family, 'el6'), el7plus: atLeast(family, 'el7'), el8plus: atLeast(family, 'el8'),
      legacyGrub: EL4_TO_6.has(family) || distro.installer === 'script',
    },
    distro: {
      name: distro.name, title: distroTitle(distro), arch: distro.arch, installer: distro.installer, script: distro.installer === 'script', iso: distro.iso !== undefined,
      tftpKernel: `distros/${distro.name}/vmlinuz`, tftpInitrd: `distros/${distro.name}/initrd.img`,
      httpKernel: `${base}/trees/${distro.name}/${distro.kernel}`, httpInitrd: `${base}/trees/${distro.name}/${distro.initrd}`,
    },
    armed,
    urls: u,
    boot: {
      args: bootArgs, ipappend, cdArgs: bootArgs.map((a) => (a === 'ksdevice=bootif' ? `ksdevice=${profile.network_device}` : a)),
      mac: bootMac, bootif: bootMac ? `01-${bootMac.replace(/:/g, '-')}` : null,
    },
    settings: {
      language: profile.language, keyboard: profile.keyboard, xlayout: xLayoutOf(profile.keyboard, profile.keyboard_xlayout), timezone: profile.timezone,
      timezoneUtc: profile.timezone_utc, selinux: profile.selinux, firewall: profile.firewall, rootPasswordHash: profile.root_password_hash ?? null,
      packages: [...profile.packages], kernelPackages: profile.packages.filter((p) => /^kernel(-|$)/.test(p)),
    },
    network,
    serial,
    disks,
    volumeGroups,
    lvm: volumeGroups.length > 0,
    root,
    swaps: located.filter((p) => p.isSwap),
    grub: {
      disk: grubDisk,
      root: `(hd0,${bootPart.number - 1})`,
      prefix: bootPart.role === 'boot' ? '' : '/boot',
      kernelArgs: installedArgs.join(' '),
      title: distroTitle(distro),
      deviceMap: biosOrder.map((d, i) => `(hd${i}) /dev/${d.name}`),
      serial: serial ? `--unit=${serial.unit} --speed=${serial.speed}` : '',
      inittab: serial && (family === 'el4' || family === 'el5') ? `S${serial.unit}:2345:respawn:/sbin/agetty ${serial.device} ${serial.speed} vt100` : '',
    },
    firmware: {
      name: profile.firmware ?? 'bios', bios: profile.firmware !== 'uefi', both: profile.firmware === 'both', uefi: (profile.firmware ?? 'bios') !== 'bios', gpt: (profile.firmware ?? 'bios') !== 'bios',
      ovmf: profile.firmware === 'uefi',
      esp: disks.filter((d) => d.esp).map((d) => ({ ...d.esp!, disk: d.name }))[0] ?? null,
      biosboot: disks.filter((d) => d.biosboot).map((d) => ({ ...d.biosboot!, disk: d.name }))[0] ?? null,
    },
    mounts,
    unmounts: [...mounts].reverse(),
    labelled,
    fstab: fstabLines(disks, family, volumeGroups.flatMap((g) => g.volumes)),
    kickstart: {
      template: profile.kickstart ?? family,
      drives: disks.map((d) => d.name).join(','),
      bootloaderAppend: [...consoleArgs, ...profile.kernel_args].join(' '),
      postLabels,
      cdrom: distro.iso === undefined && distro.url === undefined,
    },
    xen: xen
      ? {
          name: system.displayName ?? system.name, memory: xen.memory, vcpus: xen.vcpus, shadowMemory: xen.shadow_memory, bridge: xen.bridge, mac,
          vnc: { enabled: xen.vnc.enabled, listen: xen.vnc.listen, password: xen.vnc.password ?? null },
          serial: xen.serial, stdvga: xen.stdvga, boot: armed || system.state !== 'built' ? xen.boot_install : xen.boot_installed, backend: xen.disk_backend,
          disks: disks.map((d) => ({ vdev: d.name, target: d.image })), cdrom: xen.cdrom ?? null,
          bios: profile.firmware === 'uefi' ? 'ovmf' : null,
        }
      : null,
    libvirt: null,
  };
  ctx.libvirt = libvirtOf(ctx.xen, profile, disks, armed || system.state !== 'built');
  return deepFreeze(ctx);
}

/** Returns the libvirt domain of a system whose profile has a xen block, else null. */
function libvirtOf(xenCtx: RenderContext['xen'], profile: Profile, disks: DiskContext[], installing: boolean): LibvirtContext | null {
  if (!xenCtx) return null;
  return libvirtContext({
    xen: xenCtx, disks, efi: profile.firmware === 'uefi', secureBoot: profile.secure_boot, installing, bootDevice: profile.power?.boot ?? 'network',
  });
}

/** Returns the root logical volume as a partition-shaped context (disk: its volume group; no layout figures). */
function lvRoot(groups: VolumeGroupContext[]): PartitionContext & { disk: string } {
  for (const g of groups) {
    const v = g.volumes.find((x) => x.role === 'root');
    if (v) {
      return {
        number: 0, role: 'root', pv: null, vg: g.name, fstype: v.fstype, mount: '/', label: v.label, device: v.device, spec: v.spec, sizeMib: v.sizeMib,
        isExt: /^ext[234]$/.test(v.fstype), isSwap: false, start: 0, end: 0, sectors: 0, offset: 0, bytes: 0, kib: 0, extBlocks: 0, type: '8e', bootable: false, disk: g.name,
      };
    }
  }
  throw new Error('profile without a root: checkProfile lets none through');
}
