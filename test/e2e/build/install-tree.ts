// The test ISO: a tiny install tree the way kickstand finds distros in isos/ (`.treeinfo` naming
// the PXE kernel and initrd), plus `stock/`, the "stock kernel" payload the install script
// downloads from kickstand's /trees/<distro>/stock/.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Family, version and arch the test ISO declares in .treeinfo. */
export const TREE_INFO = { name: 'kickstand-e2e', family: 'kickstand-e2e', version: '1', arch: 'x86_64' } as const;
/** Paths inside the tree (and the ISO). */
export const TREE_PATHS = {
  kernel: 'images/pxeboot/vmlinuz',
  initrd: 'images/pxeboot/initrd.img',
  stockKernel: 'stock/vmlinuz',
  stockInitrd: 'stock/initrd.img',
  stockRoot: 'stock/root.tar.gz',
  stockGrub: 'stock/grub',
  stockEfi: 'stock/efi',
} as const;

/** Files that go into the tree. */
export interface TreeInputs {
  kernel: string;
  installerInitrd: string;
  systemInitrd: string;
  rootTarball: string;
  grubStages: Record<string, string>;
  /** UEFI boot loader files for stock/efi/ (BOOTX64.EFI, grubx64.efi). */
  efiLoaders: Record<string, string>;
}

/** Where the tree and the ISO ended up. */
export interface InstallTree {
  /** The tree as a directory (what the ISO holds). */
  treeDir: string;
  /** The ISO image. */
  iso: string;
  /** Installer kernel and initrd inside treeDir (for TFTP stand-ins). */
  kernel: string;
  installerInitrd: string;
}

/** Returns the .treeinfo text: productmd sections ([header], [release], [tree]) and the older [general]. */
export function treeInfo(): string {
  const t = TREE_INFO;
  return [
    '[header]',
    'type = productmd.treeinfo',
    'version = 1.2',
    '',
    '[release]',
    `name = ${t.name}`,
    `short = ${t.family}`,
    `version = ${t.version}`,
    '',
    '[tree]',
    `arch = ${t.arch}`,
    `platforms = ${t.arch}`,
    '',
    '[general]',
    `name = ${t.name} ${t.version}`,
    `family = ${t.family}`,
    `version = ${t.version}`,
    `arch = ${t.arch}`,
    '',
    `[images-${t.arch}]`,
    `kernel = ${TREE_PATHS.kernel}`,
    `initrd = ${TREE_PATHS.initrd}`,
    '',
  ].join('\n');
}

/** Lays out the install tree under out/tree and writes out/kickstand-e2e.iso with xorriso. */
export function buildInstallTree(out: string, inputs: TreeInputs): InstallTree {
  const treeDir = join(out, 'tree');
  rmSync(treeDir, { recursive: true, force: true });
  const put = (src: string, rel: string): void => {
    mkdirSync(dirname(join(treeDir, rel)), { recursive: true });
    copyFileSync(src, join(treeDir, rel));
  };
  put(inputs.kernel, TREE_PATHS.kernel);
  put(inputs.installerInitrd, TREE_PATHS.initrd);
  put(inputs.kernel, TREE_PATHS.stockKernel);
  put(inputs.systemInitrd, TREE_PATHS.stockInitrd);
  put(inputs.rootTarball, TREE_PATHS.stockRoot);
  for (const [name, src] of Object.entries(inputs.grubStages)) put(src, `${TREE_PATHS.stockGrub}/${name}`);
  for (const [name, src] of Object.entries(inputs.efiLoaders)) put(src, `${TREE_PATHS.stockEfi}/${name}`);
  writeFileSync(join(treeDir, '.treeinfo'), treeInfo());
  const iso = join(out, 'kickstand-e2e.iso');
  // xorriso prints its banner on stderr even with -quiet; a failure carries stderr in the error.
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'KICKSTAND_E2E', '-o', iso, treeDir], { stdio: 'pipe' });
  return { treeDir, iso, kernel: join(treeDir, TREE_PATHS.kernel), installerInitrd: join(treeDir, TREE_PATHS.initrd) };
}
