// Schemas of distro and profile YAML files. Every value that can reach a kickstart line or a shell
// script is constrained here first (the render helpers quote as a second line of defence).
import { z } from 'zod';

/** Names of profiles, distros and systems: safe in URLs, file names and shell words. */
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const name = z.string().regex(NAME_RE, 'expected a lowercase name of letters, digits, ".", "_" or "-"');
export const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const hostname = z.string().regex(HOSTNAME_RE, 'expected an RFC 1123 host name');
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'expected an IPv4 address');

export const FAMILIES = ['el4', 'el5', 'el6', 'el7', 'el8', 'el9', 'fedora'] as const;
export type Family = (typeof FAMILIES)[number];

const diskName = z.string().regex(/^(hd|sd|vd|xvd)[a-z]$/, 'expected a disk name such as hda, sdb or vda');
const label = z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'expected a filesystem label of up to 16 letters, digits, "_" or "-"');
const packageName = z
  .string()
  .regex(/^(@[A-Za-z0-9][A-Za-z0-9 ._+-]*|-?[A-Za-z0-9][A-Za-z0-9._+-]*)$/, 'expected an RPM package or @group name');
const kernelArg = z.string().regex(/^[A-Za-z0-9_.,:=/+@-]+$/, 'expected a kernel argument without spaces or shell characters');
const cryptHash = z.string().regex(/^\$(1|2[aby]?|5|6|y)\$[./A-Za-z0-9$=]+$/, 'expected a crypt(3) hash such as $6$salt$hash');
const safeWord = z.string().regex(/^[A-Za-z0-9_+./-]+$/, 'expected letters, digits and _ + . / - only');
const absPath = z.string().regex(/^\/[A-Za-z0-9_.+/-]*$/, 'expected an absolute path of letters, digits and _ . + / -');

export const partitionSchema = z
  .object({
    role: z.enum(['root', 'swap', 'boot', 'data']),
    fstype: z.enum(['ext2', 'ext3', 'ext4', 'xfs', 'swap']).optional(),
    /** Size in MiB; omit on the last partition of a disk to take the rest. */
    size_mib: z.number().int().min(1).optional(),
    mount: absPath.optional(),
    label: label.optional(),
  })
  .strict();

export const diskSchema = z
  .object({
    size_mib: z.number().int().min(8),
    partitions: z.array(partitionSchema).min(1).max(4),
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
        password: z.string().regex(/^[\x21-\x7e]{1,8}$/, 'expected up to 8 printable characters').optional(),
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
    timezone: z.string().regex(/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, 'expected a zone name such as Europe/Berlin').default('UTC'),
    timezone_utc: z.boolean().default(true),
    language: z.string().regex(/^[A-Za-z]{2,3}(_[A-Za-z]{2})?(\.[A-Za-z0-9-]+)?$/, 'expected a locale such as en_US.UTF-8').default('en_US.UTF-8'),
    keyboard: z.string().regex(/^[A-Za-z0-9_-]+$/).default('us'),
    network_device: z.string().regex(/^[a-z][a-z0-9]{1,14}$/).default('eth0'),
    selinux: z.enum(['enforcing', 'permissive', 'disabled']).default('disabled'),
    firewall: z.boolean().default(false),
    serial: z
      .object({
        device: z.string().regex(/^ttyS[0-9]$/),
        speed: z.number().int().refine((n) => [9600, 19200, 38400, 57600, 115200].includes(n), 'expected a standard baud rate').default(115200),
        root_login: z.boolean().default(true),
      })
      .strict()
      .optional(),
    kernel_args: z.array(kernelArg).default([]),
    xen: xenSchema.optional(),
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
