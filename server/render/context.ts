// Builds the one plain, frozen object every template renders from. Pure: the caller passes the
// system, its resolved profile and distro, the base URL and the build token (null when the system
// is not armed: URLs then carry a placeholder and boot menus boot the local disk).
import { BadRequestError, ProfileError } from '../errors.ts';
import { deepFreeze } from '../merge.ts';
import { HOSTNAME_RE, NAME_RE, type Distro, type Family, type Profile } from '../profiles/schema.ts';
import type { System } from '../store/types.ts';
import { diskContexts, fstabLines, type DiskContext, type PartitionContext } from './disks.ts';

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
  system: { name: string; hostname: string; macs: string[]; mac: string | null; macDashed: string | null; ip: string | null };
  profile: { name: string; description: string };
  family: { name: Family; el4: boolean; el5: boolean; el6: boolean; el7: boolean; el8: boolean; el9: boolean; fedora: boolean; legacyGrub: boolean };
  distro: { name: string; arch: string; installer: 'anaconda' | 'script'; script: boolean; iso: boolean; tftpKernel: string; tftpInitrd: string; httpKernel: string; httpInitrd: string };
  /** The system is in build mode with a live token: menus install, Xen boots the CD first. */
  armed: boolean;
  urls: RenderUrls;
  /**
   * Installer kernel arguments (pxelinux APPEND and iPXE, after initrd=) and whether BOOTIF is
   * appended; cdArgs for a boot CD, where no BOOTIF exists (ksdevice names the profile's device).
   */
  boot: { args: string[]; ipappend: boolean; cdArgs: string[] };
  settings: {
    language: string; keyboard: string; timezone: string; timezoneUtc: boolean; selinux: string; firewall: boolean;
    networkDevice: string; rootPasswordHash: string | null; packages: string[]; kernelPackages: string[];
  };
  serial: { device: string; unit: number; speed: number; rootLogin: boolean; console: string } | null;
  disks: DiskContext[];
  root: PartitionContext & { disk: string };
  swaps: Array<PartitionContext & { disk: string }>;
  /** The disk GRUB is installed on (BIOS disk 0) and where /boot sits on it. */
  grub: {
    disk: DiskContext; root: string; prefix: string; kernelArgs: string;
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
  kickstart: {
    template: string; drives: string; bootloaderAppend: string;
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
}

export interface ContextInput {
  system: System;
  profile: Profile;
  distro: Distro;
  urls: { base: string };
  token: string | null;
}

const EL4_TO_6 = new Set<Family>(['el4', 'el5', 'el6']);

/** Returns how many folders deep a mount point is (/ is 0). */
function depth(mount: string): number {
  return mount.split('/').filter(Boolean).length;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;
const BASE_RE = /^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[A-Za-z0-9._~\/-]*)?$/;

/** Throws BadRequestError unless the system's own values are the shapes the store promises (a second line of defence). */
function checkInput({ system, urls, token }: ContextInput): void {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new BadRequestError(`render context: ${field} ${JSON.stringify(value)}: expected ${want}`, field);
  };
  if (!NAME_RE.test(system.name)) bad('system.name', system.name, 'a lowercase name');
  if (system.hostname !== null && !HOSTNAME_RE.test(system.hostname)) bad('system.hostname', system.hostname, 'an RFC 1123 host name');
  system.macs.forEach((m, i) => MAC_RE.test(m) || bad(`system.macs[${i}]`, m, 'a lowercase colon-separated MAC'));
  if (token !== null && !TOKEN_RE.test(token)) bad('token', '[redacted]', 'letters, digits, "_" or "-"');
  if (!BASE_RE.test(urls.base)) bad('urls.base', urls.base, 'an http(s) URL without query, spaces or quotes');
}

/** Throws ProfileError when the installer cannot set up the profile's firmware on this distro's family. */
function checkFirmware(profile: Profile, distro: Distro): void {
  const fw = profile.firmware ?? 'bios';
  if (fw === 'bios') return;
  const where = `profile ${profile.name} (firmware ${fw}) with distro ${distro.name}`;
  if (distro.installer === 'script') {
    if (fw === 'both') throw new ProfileError(`${where}: the script installer's GRUB legacy cannot boot a GPT disk from BIOS; use firmware uefi or bios`);
  } else if (distro.family === 'el4' || distro.family === 'el5') {
    throw new ProfileError(`${where}: anaconda before RHEL 6 installs no UEFI boot loader; use firmware bios`);
  } else if (distro.family === 'el6' && fw === 'both') {
    throw new ProfileError(`${where}: RHEL 6 cannot make one disk boot from both BIOS and UEFI; use firmware uefi or bios`);
  }
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
  const root = located.find((p) => p.role === 'root')!;
  const bootPart = located.find((p) => p.role === 'boot') ?? root;
  const grubDisk = disks.find((d) => d.name === bootPart.disk)!;
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

  const ctx: RenderContext = {
    system: { name: system.name, hostname: system.hostname ?? system.name, macs: [...system.macs], mac, macDashed: mac ? mac.replace(/:/g, '-') : null, ip: system.ip },
    profile: { name: profile.name, description: profile.description ?? '' },
    family: {
      name: family, el4: family === 'el4', el5: family === 'el5', el6: family === 'el6', el7: family === 'el7', el8: family === 'el8', el9: family === 'el9', fedora: family === 'fedora',
      legacyGrub: EL4_TO_6.has(family) || distro.installer === 'script',
    },
    distro: {
      name: distro.name, arch: distro.arch, installer: distro.installer, script: distro.installer === 'script', iso: distro.iso !== undefined,
      tftpKernel: `distros/${distro.name}/vmlinuz`, tftpInitrd: `distros/${distro.name}/initrd.img`,
      httpKernel: `${base}/trees/${distro.name}/${distro.kernel}`, httpInitrd: `${base}/trees/${distro.name}/${distro.initrd}`,
    },
    armed,
    urls: u,
    boot: { args: bootArgs, ipappend, cdArgs: bootArgs.map((a) => (a === 'ksdevice=bootif' ? `ksdevice=${profile.network_device}` : a)) },
    settings: {
      language: profile.language, keyboard: profile.keyboard, timezone: profile.timezone, timezoneUtc: profile.timezone_utc, selinux: profile.selinux,
      firewall: profile.firewall, networkDevice: profile.network_device, rootPasswordHash: profile.root_password_hash ?? null,
      packages: [...profile.packages], kernelPackages: profile.packages.filter((p) => /^kernel(-|$)/.test(p)),
    },
    serial,
    disks,
    root,
    swaps: located.filter((p) => p.isSwap),
    grub: {
      disk: grubDisk,
      root: `(hd0,${bootPart.number - 1})`,
      prefix: bootPart.role === 'boot' ? '' : '/boot',
      kernelArgs: installedArgs.join(' '),
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
    fstab: fstabLines(disks, family),
    kickstart: {
      template: profile.kickstart ?? family,
      drives: disks.map((d) => d.name).join(','),
      bootloaderAppend: [...consoleArgs, ...profile.kernel_args].join(' '),
      cdrom: distro.iso === undefined && distro.url === undefined,
    },
    xen: xen
      ? {
          name: system.name, memory: xen.memory, vcpus: xen.vcpus, shadowMemory: xen.shadow_memory, bridge: xen.bridge, mac,
          vnc: { enabled: xen.vnc.enabled, listen: xen.vnc.listen, password: xen.vnc.password ?? null },
          serial: xen.serial, stdvga: xen.stdvga, boot: armed ? xen.boot_install : xen.boot_installed, backend: xen.disk_backend,
          disks: disks.map((d) => ({ vdev: d.name, target: d.image })), cdrom: xen.cdrom ?? null,
          bios: profile.firmware === 'uefi' ? 'ovmf' : null,
        }
      : null,
  };
  return deepFreeze(ctx);
}
