// The artifacts kickstand renders, the template behind each, and which apply to a system.
import type { RenderContext } from './context.ts';

/** Per-system artifacts. */
export const ARTIFACT_KINDS = ['kickstart', 'rescue', 'install', 'prepare', 'xen', 'xl', 'pxelinux', 'ipxe', 'isolinux', 'grub'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

/** Artifacts that belong to no system. */
export const GLOBAL_KINDS = ['pxelinux-default', 'ipxe-default', 'boot-ipxe', 'grub-default', 'grub-entry'] as const;
export type GlobalKind = (typeof GLOBAL_KINDS)[number];

/** Template of each per-system kind (kickstart: chosen per profile, kickstart/<name>.ks). */
export const ARTIFACT_TEMPLATES: Readonly<Record<ArtifactKind, string | null>> = {
  kickstart: null,
  rescue: 'rescue.sh',
  install: 'install.sh',
  prepare: 'prepare.sh',
  xen: 'xen/xm.cfg',
  xl: 'xen/xl.cfg',
  pxelinux: 'pxe/pxelinux.cfg',
  ipxe: 'pxe/ipxe',
  isolinux: 'pxe/isolinux.cfg',
  grub: 'pxe/grub.cfg',
};

export const GLOBAL_TEMPLATES: Readonly<Record<GlobalKind, string>> = {
  'pxelinux-default': 'pxe/default.cfg',
  'ipxe-default': 'pxe/default.ipxe',
  'boot-ipxe': 'pxe/boot.ipxe',
  'grub-default': 'pxe/grub-default.cfg',
  'grub-entry': 'pxe/grub-entry.cfg',
};

const LVM_SCRIPTS = "the profile uses LVM; kickstand's own scripts work on plain partitions (anaconda makes the volumes from the kickstart)";

/** Returns null when the kind applies to the system, else why not (for a 404 message). */
export function applicable(kind: ArtifactKind, ctx: RenderContext): string | null {
  switch (kind) {
    case 'kickstart':
      return ctx.distro.script ? `distro ${ctx.distro.name} installs with kickstand's install script, not a kickstart` : null;
    case 'install':
      if (ctx.lvm) return LVM_SCRIPTS;
      return ctx.distro.script ? null : `distro ${ctx.distro.name} installs with anaconda (installer: anaconda); there is no install script`;
    case 'rescue':
      if (ctx.lvm) return LVM_SCRIPTS;
      if (ctx.firmware.uefi) return `profile ${ctx.profile.name} boots UEFI (firmware ${ctx.firmware.name}); the rescue script sets up GRUB legacy in the MBR`;
      return ctx.family.legacyGrub ? null : `family ${ctx.family.name} boots with GRUB 2; the rescue script sets up GRUB legacy (el4 to el6)`;
    case 'prepare': {
      if (ctx.lvm) return LVM_SCRIPTS;
      if (ctx.firmware.gpt) return `profile ${ctx.profile.name} boots UEFI (firmware ${ctx.firmware.name}); the prepare script writes MBR disks for GRUB legacy`;
      const odd = ctx.disks.flatMap((d) => d.partitions).find((p) => !p.isExt && !p.isSwap && p.mount !== null);
      return odd ? `partition ${odd.device} is ${odd.fstype}; the prepare script makes ext2/3/4 and swap only (at an offset, without loop devices)` : null;
    }
    case 'xen':
      if (ctx.xen && ctx.firmware.ovmf) return `profile ${ctx.profile.name} boots UEFI; xm (xend) cannot give an HVM guest OVMF, use the xl config`;
      return ctx.xen ? null : `profile ${ctx.profile.name} has no xen block`;
    case 'xl':
      return ctx.xen ? null : `profile ${ctx.profile.name} has no xen block`;
    case 'pxelinux':
    case 'ipxe':
    case 'isolinux':
    case 'grub':
      return null;
  }
}

/** Returns the kinds that apply to a system, in ARTIFACT_KINDS order. */
export function artifactsFor(ctx: RenderContext): ArtifactKind[] {
  return ARTIFACT_KINDS.filter((k) => applicable(k, ctx) === null);
}
