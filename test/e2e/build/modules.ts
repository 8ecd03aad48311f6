// Kernel modules for the guest initramfs: every driver of Debian's kernel is a module. Computes
// the dependency closure from modules.dep (made with busybox depmod, so the host needs no kmod)
// and a load order where each module follows its dependencies, for plain insmod in /init.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RootTree } from './rootfs.ts';

/**
 * Modules the guests load, by name, in this order: crc32c first (ext4 asks the crypto API for it
 * by name, and nothing would load it), the NICs (e1000 with QEMU's iPXE ROM; virtio-net, which
 * OVMF drives itself for its own PXE and HTTP Boot), the IDE and AHCI (q35) controllers and
 * disks, ext4 (which also mounts ext3), and vfat with the code page and character set Debian's
 * kernel mounts it with by default, for the EFI system partition.
 */
export const GUEST_MODULES = [
  'crc32c_generic',
  'crct10dif_generic',
  'e1000',
  'virtio_pci',
  'virtio_net',
  'ata_piix',
  'ata_generic',
  'ahci',
  'sd_mod',
  'ext4',
  'vfat',
  'nls_cp437',
  'nls_ascii',
] as const;

/** Returns modules.dep of a kernel tree as module path -> dependency paths, running busybox depmod if needed. */
export function readModulesDep(root: string, kver: string, busybox: string): Map<string, string[]> {
  const depFile = join(root, 'lib/modules', kver, 'modules.dep');
  if (!existsSync(depFile)) execFileSync(busybox, ['depmod', '-b', root, kver], { stdio: 'ignore' });
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(depFile, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    deps.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** Returns the module name of a path (`kernel/lib/crc-t10dif.ko` -> `crc_t10dif`). */
function modName(path: string): string {
  return basename(path).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');
}

/** Returns module paths in load order (dependencies first) for the named modules and everything they need. */
export function loadOrder(deps: Map<string, string[]>, names: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const p of deps.keys()) byName.set(modName(p), p);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (p: string, chain: string[]): void => {
    if (seen.has(p)) return;
    if (chain.includes(p)) throw new Error(`module dependency cycle: ${[...chain, p].join(' -> ')}`);
    for (const d of deps.get(p) ?? []) visit(d, [...chain, p]);
    seen.add(p);
    order.push(p);
  };
  for (const n of names) {
    const p = byName.get(n.replace(/-/g, '_'));
    if (!p) throw new Error(`kernel module ${JSON.stringify(n)} not found in modules.dep`);
    visit(p, []);
  }
  return order;
}

/**
 * Copies the modules (in load order) from the unpacked kernel into the tree, writes
 * /etc/kickstand/modules.load (one path per line, relative to /lib/modules/<kver>) and runs
 * busybox depmod inside the tree so modprobe works there too.
 */
export function installModules(tree: RootTree, kernelRoot: string, kver: string, order: string[], busybox: string): void {
  const src = join(kernelRoot, 'lib/modules', kver);
  for (const p of order) tree.copy(join(src, p), `/lib/modules/${kver}/${p}`);
  for (const f of ['modules.builtin', 'modules.order', 'modules.builtin.modinfo']) {
    if (existsSync(join(src, f))) tree.copy(join(src, f), `/lib/modules/${kver}/${f}`);
  }
  tree.write('/etc/kickstand/modules.load', order.join('\n') + '\n');
  execFileSync(busybox, ['depmod', '-b', tree.dir, kver], { stdio: 'ignore' });
}
