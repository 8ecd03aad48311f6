// The sfdisk input (script format, util-linux 2.26 and later) that writes a DiskLayout's partition
// table: an MBR (`label: dos`) or a GPT (`label: gpt`, types as GUIDs).
import type { DiskLayout } from './layout.ts';

/** Returns the lines of an sfdisk script that creates the layout's partition table, in sectors. */
export function sfdiskLines(layout: DiskLayout): string[] {
  const lines = [`label: ${layout.label ?? 'dos'}`, 'unit: sectors', ''];
  for (const p of layout.partitions) {
    lines.push(`start=${p.start}, size=${p.sectors}, type=${p.type}${p.bootable ? ', bootable' : ''}`);
  }
  return lines;
}

/** Returns the sfdisk script of the layout as one string ending in a newline. */
export function sfdiskScript(layout: DiskLayout): string {
  return sfdiskLines(layout).join('\n') + '\n';
}
