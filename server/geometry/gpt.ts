// GUID partition tables (UEFI 2.10 section 5.3) for disks that boot through UEFI firmware: every
// partition on MiB boundaries from sector 2048, and the disk's last MiB left to the backup GPT
// (its header sits in the last sector, its entry array in the 32 sectors before it).
import { ProfileError } from '../errors.ts';
import { mibSpans, partition, type DiskLayout, type PartitionKind, type PartitionRequest } from './layout.ts';

/** Partition type GUIDs sfdisk writes into a GPT (UEFI spec, and the Linux ones of the discoverable partitions spec). */
export const GPT_TYPES: Readonly<Record<PartitionKind, string>> = Object.freeze({
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  swap: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
  efi: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  biosboot: '21686148-6449-6E6F-744E-656564454649',
});

/** Most partitions kickstand lays out on one GPT disk (the table holds 128). */
export const GPT_MAX_PARTITIONS = 16;

/** Returns the GPT layout of a disk of sizeMib for the requests, or throws ProfileError when they do not fit. */
export function layoutGptDisk(sizeMib: number, requests: readonly PartitionRequest[], where = 'disk'): DiskLayout {
  if (!Number.isSafeInteger(sizeMib) || sizeMib < 3) throw new ProfileError(`${where}: size ${JSON.stringify(sizeMib)} MiB is too small for a GPT disk (3 MiB at least)`);
  if (requests.length < 1 || requests.length > GPT_MAX_PARTITIONS) throw new ProfileError(`${where}: ${requests.length} partitions; kickstand lays out 1 to ${GPT_MAX_PARTITIONS} on a GPT disk`);
  requests.forEach((r, i) => {
    if (r.sizeMib === undefined && i !== requests.length - 1) throw new ProfileError(`${where}: partition ${i + 1}: only the last partition may take the rest of the disk`);
    if (r.sizeMib !== undefined && (!Number.isSafeInteger(r.sizeMib) || r.sizeMib < 1)) {
      throw new ProfileError(`${where}: partition ${i + 1}: size ${JSON.stringify(r.sizeMib)} MiB is not a positive whole number`);
    }
  });
  const bytes = sizeMib * 1024 * 1024;
  const sectors = bytes / 512;
  // The last MiB holds the backup GPT: lay the partitions out as if the disk ended before it.
  const spans = mibSpans(sizeMib - 1, requests, where);
  return {
    alignment: '1MiB',
    label: 'gpt',
    bytes,
    sectors,
    cylinders: Math.floor(bytes / 8225280),
    partitions: spans.map(([start, end], i) => ({ ...partition(i + 1, requests[i]!, start, end, GPT_TYPES[requests[i]!.kind]), bootable: false })),
  };
}
