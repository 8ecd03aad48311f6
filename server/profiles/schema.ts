// Schemas of distro and profile YAML files. Every value that can reach a kickstart line or a shell
// script is constrained here first (the render helpers quote as a second line of defence).
import { z } from 'zod';
import { powerDefaultsSchema } from '../power/settings.ts';

/** Names of profiles, distros and systems: safe in URLs, file names and shell words. */
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const name = z.string().regex(NAME_RE, 'expected a lowercase name of letters, digits, ".", "_" or "-"');
/** A display name as an operator writes it (the notes' `NGTest-hvm`): NAME_RE with capitals allowed; its slug is the lowercase. */
export const DISPLAY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/**
 * Host names: RFC 1123 labels of at most 63 characters, and at most 64 characters in all, the
 * longest name the kernel (HOST_NAME_MAX) and anaconda's `network --hostname` take.
 */
export const HOSTNAME_RE = /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const hostname = z.string().regex(HOSTNAME_RE, 'expected an RFC 1123 host name of at most 64 characters (labels of at most 63)');
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'expected an IPv4 address');

export const FAMILIES = ['el4', 'el5', 'el6', 'el7', 'el8', 'el9', 'el10', 'fedora'] as const;
export type Family = (typeof FAMILIES)[number];

const diskName = z.string().regex(/^(hd|sd|vd|xvd)[a-z]$/, 'expected a disk name such as hda, sdb or vda');
/** File system labels: ext2/3/4 and swap hold 16 characters, XFS 12 (checked per file system in check.ts). */
export const LABEL_MAX: Readonly<Record<string, number>> = { ext2: 16, ext3: 16, ext4: 16, swap: 16, xfs: 12 };
const label = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,15}$/, 'expected a filesystem label of up to 16 letters, digits, "_" or "-", not starting with "-"');
/**
 * A %packages line: a package (or -package to leave one out) or an @group whose name may hold
 * spaces (el4/el5 group names do), but no word of it may start with "-": `@base --nobase` would be
 * an option of the group line.
 */
const packageName = z
  .string()
  .regex(/^(@ ?[A-Za-z0-9][A-Za-z0-9._+-]*( [A-Za-z0-9._+][A-Za-z0-9._+-]*)*|-?[A-Za-z0-9][A-Za-z0-9._+-]*)$/, 'expected an RPM package, -package or @group name (no word may start with "-")');
/** Largest disk or partition an MBR (dos) label addresses: 2^32 sectors of 512 bytes, less one MiB. */
export const MAX_DISK_MIB = 2 * 1024 * 1024 - 1;
/** Words kickstand writes in a kickstart's option position must not start with "-" (they would become options). */
const optionSafe = (re: RegExp, what: string) => z.string().regex(re, what);
const kernelArg = z.string().regex(/^[A-Za-z0-9_.,:=/+@][A-Za-z0-9_.,:=/+@-]*$/, 'expected a kernel argument without spaces or shell characters (not starting with "-")');
const cryptHash = z.string().regex(/^\$(1|2[aby]?|5|6|y)\$[./A-Za-z0-9$=]+$/, 'expected a crypt(3) hash such as $6$salt$hash');
const safeWord = z.string().regex(/^[A-Za-z0-9_+./-]+$/, 'expected letters, digits and _ + . / - only');
const absPath = z.string().regex(/^\/[A-Za-z0-9_.+/-]*$/, 'expected an absolute path of letters, digits and _ . + / -');

/** LVM names: volume groups and logical volumes. */
const vgName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.+]{0,31}$/, 'expected an LVM name of letters, digits, "_", "." or "+" (not starting with "-")');

export const partitionSchema = z
  .object({
    /** pv: a physical volume of the volume group named by `vg`. */
    role: z.enum(['root', 'swap', 'boot', 'data', 'pv']),
    fstype: z.enum(['ext2', 'ext3', 'ext4', 'xfs', 'swap']).optional(),
    /** Size in MiB; omit on the last partition of a disk to take the rest. */
    size_mib: z.number().int().min(1).max(MAX_DISK_MIB).optional(),
    mount: absPath.optional(),
    label: label.optional(),
    /** Volume group this partition is a physical volume of (role pv). */
    vg: vgName.optional(),
  })
  .strict();

export const diskSchema = z
  .object({
    size_mib: z.number().int().min(8).max(MAX_DISK_MIB, `expected at most ${MAX_DISK_MIB} MiB (an MBR disk addresses 2 TiB)`),
    partitions: z.array(partitionSchema).min(1).max(4),
  })
  .strict();

/** One logical volume of a volume group. */
export const volumeSchema = z
  .object({
    name: vgName,
    role: z.enum(['root', 'swap', 'data']),
    fstype: z.enum(['ext2', 'ext3', 'ext4', 'xfs', 'swap']).optional(),
    /** Size in MiB; omit on the last volume of a group to take the rest. */
    size_mib: z.number().int().min(1).max(MAX_DISK_MIB).optional(),
    mount: absPath.optional(),
    label: label.optional(),
  })
  .strict();

export const volumeGroupSchema = z.object({ volumes: z.array(volumeSchema).min(1).max(32) }).strict();

/** How the installed system configures its network: DHCP, or static with the system's ip. */
export const networkSchema = z
  .object({
    /** static: the system's `ip` with the netmask, gateway and name servers below or from dhcp.subnet. */
    mode: z.enum(['dhcp', 'static']).default('dhcp'),
    netmask: ipv4.optional(),
    gateway: ipv4.optional(),
    nameservers: z.array(ipv4).max(3).optional(),
  })
  .strict();

export const xenSchema = z
  .object({
    memory: z.number().int().min(32),
    vcpus: z.number().int().min(1).max(128),
    shadow_memory: z.number().int().min(0).default(8),
    bridge: safeWord,
    vnc: z
      .object({
        enabled: z.boolean().default(true),
        listen: ipv4.default('127.0.0.1'),
        /** VNC keeps 8 characters; quotes and backslashes cannot be written in an xl config (it has no escapes). */
        password: z.string().regex(/^[\x21\x23-\x26\x28-\x5b\x5d-\x7e]{1,8}$/, 'expected up to 8 printable characters without quotes or backslashes').optional(),
      })
      .strict()
      .default({}),
    serial: z.enum(['pty', 'none']).default('pty'),
    stdvga: z.boolean().default(false),
    /** Boot order while the system is in build mode (the notes' CD route: dca). */
    boot_install: z.string().regex(/^[acdn]{1,4}$/).default('dca'),
    /** Boot order once built: disk first. */
    boot_installed: z.string().regex(/^[acdn]{1,4}$/).default('c'),
    disk_backend: z.enum(['file', 'phy']).default('file'),
    /** Folder of image files (file backend) or volume group device folder (phy backend). */
    disk_dir: absPath.default('/var/xen'),
    /** ISO attached as hdc:cdrom for the CD route. */
    cdrom: absPath.optional(),
  })
  .strict();

export const profileBodySchema = z
  .object({
    description: z.string().max(500).optional(),
    distro: name,
    /** Kickstart template (templates/kickstart/<name>.ks.hbs); defaults to the distro's family. */
    kickstart: name.optional(),
    alignment: z.enum(['chs', '1MiB']).default('1MiB'),
    /** Firmware the machine boots through: bios (MBR), uefi (GPT with an EFI system partition), or both (GPT with a BIOS boot partition and an ESP). */
    firmware: z.enum(['bios', 'uefi', 'both']).default('bios'),
    /** Size of the EFI system partition kickstand puts first on the boot disk when firmware is uefi or both. */
    esp_mib: z.number().int().min(32).max(4096).default(200),
    disks: z.record(diskName, diskSchema),
    packages: z.array(packageName).default([]),
    root_password_hash: cryptHash.optional(),
    timezone: optionSafe(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_][A-Za-z0-9_+-]*)*$/, 'expected a zone name such as Europe/Berlin').default('UTC'),
    timezone_utc: z.boolean().default(true),
    language: optionSafe(/^[A-Za-z]{2,3}(_[A-Za-z]{2})?(\.[A-Za-z0-9-]+)?$/, 'expected a locale such as en_US.UTF-8').default('en_US.UTF-8'),
    /** Console keymap (el4–el6 `keyboard`, el7+ `--vckeymap`), e.g. us or de-latin1. */
    keyboard: optionSafe(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a keymap such as us or de-latin1 (not starting with "-")').default('us'),
    /** X layout for el7+ `--xlayouts`; derived from keyboard when unset (de-latin1 gives de). */
    keyboard_xlayout: optionSafe(/^[a-z][a-z0-9_]*$/, 'expected an X layout such as de or fr').optional(),
    /** Interface name of the installed system's network line on el4–el6; el7 and later name the NIC by its MAC. */
    network_device: optionSafe(/^[a-z][a-z0-9]{1,14}$/, 'expected an interface name such as eth0').default('eth0'),
    network: networkSchema.default({}),
    selinux: z.enum(['enforcing', 'permissive', 'disabled']).default('disabled'),
    firewall: z.boolean().default(false),
    serial: z
      .object({
        /** GRUB (--unit) and PXELINUX (SERIAL port) know units 0 to 3. */
        device: z.string().regex(/^ttyS[0-3]$/, 'expected ttyS0 to ttyS3 (GRUB and PXELINUX know serial units 0 to 3)'),
        speed: z.number().int().refine((n) => [9600, 19200, 38400, 57600, 115200].includes(n), 'expected a standard baud rate').default(115200),
        root_login: z.boolean().default(true),
      })
      .strict()
      .optional(),
    kernel_args: z.array(kernelArg).default([]),
    /** LVM: volume groups of the partitions with role pv, and their logical volumes. */
    volume_groups: z.record(vgName, volumeGroupSchema).default({}),
    xen: xenSchema.optional(),
    /** Power-control defaults for the profile's systems (driver, address, user, secret_file, …). */
    power: powerDefaultsSchema.optional(),
  })
  .strict();

/** One profile file on its own: every key optional (a parent may supply it), unknown keys refused. */
export const profileFileSchema = profileBodySchema
  .deepPartial()
  .extend({
    kind: z.literal('profile'),
    name,
    extends: name.optional(),
    /** An abstract profile only exists to be extended: it may be incomplete and cannot be assigned. */
    abstract: z.boolean().optional(),
    disks: z.record(diskName, diskSchema.partial().strict()).optional(),
  })
  .strict();

export const distroFileSchema = z
  .object({
    kind: z.literal('distro'),
    name,
    family: z.enum(FAMILIES),
    arch: z.enum(['i386', 'x86_64', 'aarch64']),
    /** ISO file name in the isos folder that holds the tree. */
    iso: z.string().regex(/^[A-Za-z0-9._+-]+\.iso$/i, 'expected an ISO file name in the isos folder').optional(),
    /** Remote install tree, when not served from an ISO. */
    url: z.string().url().optional(),
    kernel: z.string().regex(/^[A-Za-z0-9_.+/-]+$/),
    initrd: z.string().regex(/^[A-Za-z0-9_.+/-]+$/),
    /** anaconda reads a kickstart; script boots a minimal installer that runs kickstand's install script. */
    installer: z.enum(['anaconda', 'script']).default('anaconda'),
    description: z.string().max(500).optional(),
  })
  .strict();

export type Partition = z.infer<typeof partitionSchema>;
export type Disk = z.infer<typeof diskSchema>;
export type XenSettings = z.infer<typeof xenSchema>;
/** A profile after `extends` resolution, defaults and validation. */
export type Profile = z.infer<typeof profileBodySchema> & { name: string; parents: string[] };
export type Distro = z.infer<typeof distroFileSchema> & { source: 'yaml' | 'iso' };
