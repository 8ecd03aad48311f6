// Checks a resolved profile for rules a schema cannot express: one root, partitions that fit,
// filesystem types that match roles.
import { ProfileError } from '../errors.ts';
import type { Profile } from './schema.ts';

/** Throws ProfileError when the disks of a resolved profile cannot be laid out. */
export function checkProfile(p: Profile, where: string): void {
  const disks = Object.entries(p.disks);
  if (disks.length === 0) throw new ProfileError(`${where}: disks: at least one disk is needed`, 'disks');
  let roots = 0;
  for (const [disk, d] of disks) {
    let fixed = 0;
    d.partitions.forEach((part, i) => {
      const key = `disks.${disk}.partitions[${i}]`;
      if (part.role === 'root') roots++;
      if (part.role === 'swap' && part.fstype !== undefined && part.fstype !== 'swap') {
        throw new ProfileError(`${where}: ${key}.fstype: a swap partition has fstype swap, got ${JSON.stringify(part.fstype)}`, `${key}.fstype`);
      }
      if (part.role !== 'swap' && part.fstype === 'swap') {
        throw new ProfileError(`${where}: ${key}.fstype: only role swap may use fstype swap`, `${key}.fstype`);
      }
      if (part.size_mib === undefined && i !== d.partitions.length - 1) {
        throw new ProfileError(`${where}: ${key}.size_mib: only the last partition of a disk may omit its size`, `${key}.size_mib`);
      }
      fixed += part.size_mib ?? 0;
    });
    if (fixed > d.size_mib - 1) {
      throw new ProfileError(`${where}: disks.${disk}.partitions: ${fixed} MiB of partitions do not fit a ${d.size_mib} MiB disk`, `disks.${disk}.partitions`);
    }
  }
  if (roots !== 1) throw new ProfileError(`${where}: disks: exactly one partition must have role root, found ${roots}`, 'disks');
}
