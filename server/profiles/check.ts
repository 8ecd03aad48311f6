// Checks a resolved profile for rules a schema cannot express: one root, partitions that fit,
// filesystem types that match roles, mount points and labels used once, LVM groups that exist,
// a Xen CD-ROM that does not take a disk's place; and, once the distro's family is known, file
// systems and labels that family's installer can make.
import { ProfileError } from '../errors.ts';
import { LABEL_MAX, type Family, type Profile } from './schema.ts';

/** The file system each family's installer makes when a profile names none. */
export const DEFAULT_FS: Readonly<Record<Family, string>> = { el4: 'ext3', el5: 'ext3', el6: 'ext4', el7: 'xfs', el8: 'xfs', el9: 'xfs', el10: 'xfs', fedora: 'xfs' };

/** File systems an installer of the family cannot make (anaconda 10 has no ext4 or XFS; el5 no XFS). */
const UNSUPPORTED_FS: Readonly<Partial<Record<Family, readonly string[]>>> = { el4: ['ext4', 'xfs'], el5: ['xfs'] };

/** Families whose kickstart `logvol` has no --label (kickstand labels ext and swap volumes in %post). */
const LOGVOL_NO_LABEL: readonly Family[] = ['el4', 'el5', 'el6'];

/** Where the Xen configs attach the install CD (the notes' `hdc:cdrom`). */
export const XEN_CDROM_VDEV = 'hdc';

/** One file system or swap area of a profile, on a partition or a logical volume, with its key. */
interface Volume {
  key: string;
  role: string;
  fstype?: string;
  mount?: string;
  label?: string;
}

function fail(where: string, key: string, message: string): never {
  throw new ProfileError(`${where}: ${key}: ${message}`, key);
}

/** Returns every partition and logical volume that holds a file system or swap, keyed as in the YAML. */
function volumesOf(p: Profile): Volume[] {
  const out: Volume[] = [];
  for (const [disk, d] of Object.entries(p.disks)) {
    d.partitions.forEach((part, i) => {
      if (part.role !== 'pv') out.push({ ...part, key: `disks.${disk}.partitions[${i}]` });
    });
  }
  for (const [vg, g] of Object.entries(p.volume_groups)) g.volumes.forEach((v, i) => out.push({ ...v, key: `volume_groups.${vg}.volumes[${i}]` }));
  return out;
}

/** Throws ProfileError, naming the field, when the disks of a resolved profile cannot be laid out or installed. */
export function checkProfile(p: Profile, where: string): void {
  const disks = Object.entries(p.disks);
  if (disks.length === 0) fail(where, 'disks', 'at least one disk is needed');
  if (p.secure_boot && p.firmware !== 'uefi') fail(where, 'secure_boot', `Secure Boot needs firmware uefi (this profile boots ${p.firmware})`);
  if (p.xen?.cdrom && p.disks[XEN_CDROM_VDEV]) fail(where, `disks.${XEN_CDROM_VDEV}`, `the Xen configs attach xen.cdrom as ${XEN_CDROM_VDEV}; name the disk hdb or hdd, or drop xen.cdrom`);
  const pvs = new Map<string, number>();
  for (const [disk, d] of disks) {
    let fixed = 0;
    d.partitions.forEach((part, i) => {
      const key = `disks.${disk}.partitions[${i}]`;
      if (part.role === 'pv') {
        if (!part.vg) fail(where, `${key}.vg`, 'a partition with role pv names its volume group (vg)');
        if (!p.volume_groups[part.vg]) fail(where, `${key}.vg`, `no volume group ${JSON.stringify(part.vg)} in volume_groups`);
        for (const k of ['fstype', 'mount', 'label'] as const) if (part[k] !== undefined) fail(where, `${key}.${k}`, 'a physical volume holds no file system of its own');
        pvs.set(part.vg, (pvs.get(part.vg) ?? 0) + 1);
      } else if (part.vg !== undefined) fail(where, `${key}.vg`, 'only a partition with role pv belongs to a volume group');
      if (part.size_mib === undefined && i !== d.partitions.length - 1) fail(where, `${key}.size_mib`, 'only the last partition of a disk may omit its size');
      fixed += part.size_mib ?? 0;
    });
    if (fixed > d.size_mib - 1) fail(where, `disks.${disk}.partitions`, `${fixed} MiB of partitions do not fit a ${d.size_mib} MiB disk`);
  }
  for (const [vg, g] of Object.entries(p.volume_groups)) {
    if (!pvs.has(vg)) fail(where, `volume_groups.${vg}`, 'no partition has role pv with this vg');
    g.volumes.forEach((v, i) => {
      if (v.size_mib === undefined && i !== g.volumes.length - 1) fail(where, `volume_groups.${vg}.volumes[${i}].size_mib`, 'only the last volume of a group may omit its size');
      const dup = g.volumes.findIndex((o) => o.name === v.name);
      if (dup !== i) fail(where, `volume_groups.${vg}.volumes[${i}].name`, `volume ${JSON.stringify(v.name)} is already volumes[${dup}]`);
    });
  }
  const volumes = volumesOf(p);
  const roots = volumes.filter((v) => v.role === 'root');
  if (roots.length !== 1) fail(where, 'disks', `exactly one partition or logical volume must have role root, found ${roots.length}`);
  const mounts = new Map<string, string>();
  const labels = new Map<string, string>();
  for (const v of volumes) {
    if (v.role === 'swap' && v.fstype !== undefined && v.fstype !== 'swap') fail(where, `${v.key}.fstype`, `a swap partition has fstype swap, got ${JSON.stringify(v.fstype)}`);
    if (v.role !== 'swap' && v.fstype === 'swap') fail(where, `${v.key}.fstype`, 'only role swap may use fstype swap');
    if (v.role === 'swap' && v.mount !== undefined) fail(where, `${v.key}.mount`, 'swap is not mounted');
    if (v.role === 'root' && v.mount !== undefined && v.mount !== '/') fail(where, `${v.key}.mount`, `role root is mounted on /, got ${JSON.stringify(v.mount)}`);
    if (v.role === 'boot' && v.mount !== undefined && v.mount !== '/boot') fail(where, `${v.key}.mount`, `role boot is mounted on /boot, got ${JSON.stringify(v.mount)}`);
    const mount = v.role === 'root' ? '/' : v.role === 'boot' ? '/boot' : v.mount;
    if (mount !== undefined && v.role !== 'swap') {
      if (mounts.has(mount)) fail(where, `${v.key}.mount`, `${mount} is already mounted from ${mounts.get(mount)}`);
      mounts.set(mount, v.key);
    }
    if (v.label !== undefined) {
      if (labels.has(v.label)) fail(where, `${v.key}.label`, `label ${JSON.stringify(v.label)} is already used by ${labels.get(v.label)} (LABEL= would name two file systems)`);
      labels.set(v.label, v.key);
      checkLabel(v, v.fstype, where);
    }
  }
  const bootParts = volumes.filter((v) => v.role === 'boot');
  if (bootParts.length > 1) fail(where, bootParts[1]!.key, 'only one partition may have role boot');
  if (roots[0]!.key.startsWith('volume_groups.') && bootParts.length === 0) {
    fail(where, roots[0]!.key, 'root on LVM needs a partition with role boot (the boot loader reads /boot from a plain partition)');
  }
}

/** Throws ProfileError when label is longer than fstype allows. */
function checkLabel(v: Volume, fstype: string | undefined, where: string): void {
  const max = fstype ? LABEL_MAX[fstype] : undefined;
  if (v.label !== undefined && max !== undefined && v.label.length > max) fail(where, `${v.key}.label`, `${fstype} labels hold at most ${max} characters, got ${v.label.length} (${JSON.stringify(v.label)})`);
}

/** Throws ProfileError when the profile asks for a file system or label the family's installer cannot make. */
export function checkProfileForFamily(p: Profile, family: Family, where: string): void {
  const unsupported = UNSUPPORTED_FS[family] ?? [];
  for (const v of volumesOf(p)) {
    const fstype = v.role === 'swap' ? 'swap' : (v.fstype ?? DEFAULT_FS[family]);
    if (unsupported.includes(fstype)) fail(where, `${v.key}.fstype`, `the ${family} installer cannot make ${fstype}`);
    if (v.label !== undefined && fstype === 'xfs' && v.key.startsWith('volume_groups.') && LOGVOL_NO_LABEL.includes(family)) {
      fail(where, `${v.key}.label`, `the ${family} kickstart cannot label a logical volume, and an XFS label cannot be set once it is mounted`);
    }
    checkLabel(v, fstype, where);
  }
}
