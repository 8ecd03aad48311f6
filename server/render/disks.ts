// The disk half of a render context: each profile disk laid out by the geometry module, with the
// names the guest's kernel and GRUB use, the image or volume that backs it on the host, and the
// fstab and GRUB figures every script shares.
import { ProfileError } from '../errors.ts';
import { layoutGptDisk } from '../geometry/gpt.ts';
import { layoutDisk, type PartitionLayout, type PartitionRequest } from '../geometry/layout.ts';
import { sfdiskLines } from '../geometry/sfdisk.ts';
import { DEFAULT_FS } from '../profiles/check.ts';
import type { Family, Profile } from '../profiles/schema.ts';

/** One partition as templates see it. */
export interface PartitionContext {
  number: number;
  role: 'root' | 'swap' | 'boot' | 'data' | 'pv' | 'efi' | 'biosboot';
  /** Kickstart id of a physical volume (pv.vda2) and its volume group; null for other roles. */
  pv: string | null;
  vg: string | null;
  /** Concrete file system: the profile's, or the family default (ext3 up to el5, ext4 el6, xfs el7+). */
  fstype: string;
  /** Mount point; swap for swap; null for an unmounted data partition. */
  mount: string | null;
  label: string | null;
  /** Guest device, e.g. /dev/hda1. */
  device: string;
  /** What fstab and root= name it by: LABEL=… when labelled, else the device. */
  spec: string;
  sizeMib: number | null;
  isExt: boolean;
  isSwap: boolean;
  start: number;
  end: number;
  sectors: number;
  offset: number;
  bytes: number;
  kib: number;
  extBlocks: number;
  type: string;
  bootable: boolean;
}

/** One disk as templates see it. */
export interface DiskContext {
  /** Name the profile (and the guest kernel of its family) gives it: hda, vda… */
  name: string;
  sizeMib: number;
  bytes: number;
  sectors: number;
  cylinders: number;
  alignment: 'chs' | '1MiB';
  /** SCSI address (host:channel:id:lun) libata gives this IDE position, or '' for non-IDE names. */
  scsi: string;
  /** /dev/disk/by-path globs that name this IDE position on udev systems. */
  byPath: string[];
  /** Host-side file or logical volume (prepare, xen). */
  image: string;
  /** Volume group and volume name for the phy backend, else null. */
  lv: { vg: string; name: string } | null;
  /** sfdisk script lines (label: dos or gpt, unit: sectors, one line per partition). */
  sfdisk: string[];
  /** The profile's partitions (firmware partitions are in esp and biosboot, not here). */
  partitions: PartitionContext[];
  /** Partition table: dos (MBR) for BIOS profiles, gpt when the profile boots UEFI. */
  label: 'dos' | 'gpt';
  /** The EFI system partition, on the boot disk of a uefi/both profile (vfat, /boot/efi). */
  esp: PartitionContext | null;
  /** The BIOS boot partition GRUB 2 embeds its core image in, on the boot disk of a both profile. */
  biosboot: PartitionContext | null;
}

/** Where images live and how they are backed. */
export interface DiskBacking {
  backend: 'file' | 'phy';
  dir: string;
  system: string;
}

/** Returns the SCSI address libata gives an IDE name (hda primary master 0:0:0:0 … hdd 1:0:1:0), else ''. */
export function ideAddress(name: string): string {
  const m = /^hd([a-d])$/.exec(name);
  if (!m) return '';
  const i = m[1]!.charCodeAt(0) - 97;
  return `${i >> 1}:0:${i & 1}:0`;
}

/** Returns the laid-out disks of a profile in the profile's order. */
export function diskContexts(profile: Profile, family: Family, backing: DiskBacking): DiskContext[] {
  const bootRole = Object.values(profile.disks).some((d) => d.partitions.some((p) => p.role === 'boot')) ? 'boot' : 'root';
  const firmware = profile.firmware ?? 'bios';
  const gpt = firmware !== 'bios';
  if (gpt && profile.alignment === 'chs') throw new ProfileError(`profile ${profile.name}: alignment chs is for MBR disks; firmware ${firmware} lays a GPT out on 1MiB boundaries`);
  const bootDisk = Object.entries(profile.disks).find(([, d]) => d.partitions.some((p) => p.role === bootRole))?.[0] ?? Object.keys(profile.disks)[0];
  return Object.entries(profile.disks).map(([name, disk]) => {
    const where = `profile ${profile.name}: disks.${name}`;
    const own: PartitionRequest[] = disk.partitions.map((p) => ({ sizeMib: p.size_mib, kind: p.role === 'swap' ? ('swap' as const) : ('linux' as const), bootable: p.role === bootRole }));
    // The firmware's partitions go first on the boot disk: GRUB's BIOS boot partition, then the ESP.
    const fw: PartitionRequest[] = gpt && name === bootDisk ? [...(firmware === 'both' ? [{ kind: 'biosboot' as const, sizeMib: 1 }] : []), { kind: 'efi', sizeMib: profile.esp_mib ?? 200 }] : [];
    const layout = gpt ? layoutGptDisk(disk.size_mib, [...fw, ...own], where) : layoutDisk(disk.size_mib, own, profile.alignment, where);
    const fwParts = layout.partitions.slice(0, fw.length).map((l) => firmwarePartition(name, l));
    const scsi = ideAddress(name);
    const lvName = `${backing.system}-${name}`;
    return {
      name,
      sizeMib: disk.size_mib,
      bytes: layout.bytes,
      sectors: layout.sectors,
      cylinders: layout.cylinders,
      alignment: layout.alignment,
      scsi,
      byPath: scsi ? byPathGlobs(scsi) : [],
      image: backing.backend === 'file' ? `${backing.dir}/${backing.system}-${name}.img` : `${backing.dir}/${lvName}`,
      lv: backing.backend === 'phy' ? { vg: backing.dir.split('/').filter(Boolean).pop() ?? '', name: lvName } : null,
      sfdisk: sfdiskLines(layout),
      partitions: layout.partitions.slice(fw.length).map((l, i) => partitionContext(name, disk.partitions[i]!, l, family)),
      label: gpt ? 'gpt' : 'dos',
      esp: fwParts.find((p) => p.role === 'efi') ?? null,
      biosboot: fwParts.find((p) => p.role === 'biosboot') ?? null,
    };
  });
}

/** Label kickstand gives the EFI system partition (vfat labels are at most 11 characters). */
export const ESP_LABEL = 'ESP';

/** Returns the context of a firmware partition: the ESP (vfat on /boot/efi) or the BIOS boot partition (no file system). */
function firmwarePartition(disk: string, l: PartitionLayout): PartitionContext {
  const esp = l.kind === 'efi';
  const device = `/dev/${disk}${l.number}`;
  return {
    number: l.number, role: esp ? 'efi' : 'biosboot', pv: null, vg: null, fstype: esp ? 'vfat' : 'biosboot', mount: esp ? '/boot/efi' : null,
    label: esp ? ESP_LABEL : null, device, spec: esp ? `LABEL=${ESP_LABEL}` : device, sizeMib: l.bytes / 1048576,
    isExt: false, isSwap: false, start: l.start, end: l.end, sectors: l.sectors, offset: l.offset, bytes: l.bytes, kib: l.kib,
    extBlocks: l.extBlocks, type: l.type, bootable: false,
  };
}

function byPathGlobs(scsi: string): string[] {
  const [host, , id] = scsi.split(':').map(Number);
  const port = host! + 1;
  return [`*-scsi-${scsi}`, `*-ata-${port}.${id}`, ...(id === 0 ? [`*-ata-${port}`] : [])];
}

function partitionContext(disk: string, p: Profile['disks'][string]['partitions'][number], l: PartitionLayout, family: Family): PartitionContext {
  const pv = p.role === 'pv';
  const fstype = p.role === 'swap' ? 'swap' : pv ? 'lvmpv' : (p.fstype ?? DEFAULT_FS[family]);
  const mount = p.role === 'swap' ? 'swap' : pv ? null : (p.mount ?? (p.role === 'root' ? '/' : p.role === 'boot' ? '/boot' : null));
  const device = `/dev/${disk}${l.number}`;
  return {
    number: l.number,
    role: p.role,
    pv: pv ? `pv.${disk}${l.number}` : null,
    vg: p.vg ?? null,
    fstype,
    mount,
    label: p.label ?? null,
    device,
    spec: p.label ? `LABEL=${p.label}` : device,
    sizeMib: p.size_mib ?? null,
    isExt: /^ext[234]$/.test(fstype),
    isSwap: p.role === 'swap',
    start: l.start,
    end: l.end,
    sectors: l.sectors,
    offset: l.offset,
    bytes: l.bytes,
    kib: l.kib,
    extBlocks: l.extBlocks,
    type: l.type,
    bootable: l.bootable,
  };
}

/** One LVM logical volume as templates see it. */
export interface VolumeContext {
  name: string;
  role: 'root' | 'swap' | 'data';
  fstype: string;
  mount: string | null;
  label: string | null;
  /** /dev/<vg>/<name>. */
  device: string;
  /** What fstab and root= name it by: its device (LVM names are stable; old initrds find no labels on volumes). */
  spec: string;
  sizeMib: number | null;
  isSwap: boolean;
}

/** One LVM volume group: its physical volumes' kickstart ids and its logical volumes. */
export interface VolumeGroupContext {
  name: string;
  pvs: string[];
  volumes: VolumeContext[];
}

/** Returns the profile's volume groups with their physical volumes found among the laid-out disks. */
export function volumeGroupContexts(profile: Profile, family: Family, disks: DiskContext[]): VolumeGroupContext[] {
  return Object.entries(profile.volume_groups).map(([vg, g]) => ({
    name: vg,
    pvs: disks.flatMap((d) => d.partitions).filter((p) => p.vg === vg).map((p) => p.pv!),
    volumes: g.volumes.map((v) => {
      const device = `/dev/${vg}/${v.name}`;
      return {
        name: v.name,
        role: v.role,
        fstype: v.role === 'swap' ? 'swap' : (v.fstype ?? DEFAULT_FS[family]),
        mount: v.role === 'swap' ? 'swap' : (v.mount ?? (v.role === 'root' ? '/' : null)),
        label: v.label ?? null,
        device,
        spec: device,
        sizeMib: v.size_mib ?? null,
        isSwap: v.role === 'swap',
      };
    }),
  }));
}

/** What fstab needs of a partition or logical volume. */
type Mountable = Pick<PartitionContext, 'spec' | 'mount' | 'fstype' | 'isSwap'>;

/** Returns the fstab lines (space-separated) for the profile's partitions and volumes and the family's pseudo file systems. */
export function fstabLines(disks: DiskContext[], family: Family, volumes: readonly Mountable[] = []): string[] {
  const parts = [...disks.flatMap((d) => (d.esp ? [...d.partitions, d.esp] : d.partitions)), ...volumes].filter((p) => p.mount !== null);
  const depth = (m: string): number => m.split('/').filter(Boolean).length;
  const mounted = parts.filter((p) => !p.isSwap).sort((a, b) => depth(a.mount!) - depth(b.mount!));
  const lines = mounted.map((p) =>
    p.fstype === 'vfat' ? `${p.spec} ${p.mount} vfat umask=0077,shortname=winnt 0 2` : `${p.spec} ${p.mount} ${p.fstype} defaults ${p.fstype === 'xfs' ? '0 0' : `1 ${p.mount === '/' ? 1 : 2}`}`,
  );
  for (const p of parts.filter((x) => x.isSwap)) lines.push(`${p.spec} swap swap defaults 0 0`);
  if (family === 'el4' || family === 'el5') {
    lines.push('none /dev/pts devpts gid=5,mode=620 0 0', 'none /dev/shm tmpfs defaults 0 0', 'none /proc proc defaults 0 0', 'none /sys sysfs defaults 0 0');
  } else if (family === 'el6') {
    lines.push('tmpfs /dev/shm tmpfs defaults 0 0', 'devpts /dev/pts devpts gid=5,mode=620 0 0', 'sysfs /sys sysfs defaults 0 0', 'proc /proc proc defaults 0 0');
  }
  return lines;
}
