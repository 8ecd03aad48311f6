// Builds everything the e2e guest boots, from Debian packages, cached under .cache/e2e keyed by
// package versions and by the guest sources: the installer initramfs, the installed system's
// initramfs and root tarball, and a test ISO laid out as an install tree.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concreteDependency, fetchDeb, hostVersion, unpackDeb, type Deb } from './debs.ts';
import { GUEST_MODULES, installModules, loadOrder, readModulesDep } from './modules.ts';
import { buildInstallTree, type InstallTree } from './install-tree.ts';
import { RootTree } from './rootfs.ts';

/** Repository root (three levels above this file). */
export const REPO_ROOT = new URL('../../../', import.meta.url).pathname;
/** Default cache folder of the e2e build (git-ignored). */
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, '.cache/e2e');
const GUEST_DIR = new URL('../guest/', import.meta.url).pathname;
const BUILD_DIR = new URL('./', import.meta.url).pathname;

/**
 * Host binaries copied into the installer with their libraries: path on the host -> Debian
 * package. dash becomes /bin/sh: Debian's static busybox sh runs its own applets (mke2fs, mkswap)
 * before anything on PATH, and the install script needs the real e2fsprogs and util-linux.
 */
const HOST_TOOLS: Record<string, string> = {
  '/usr/sbin/sfdisk': 'fdisk',
  '/usr/sbin/mke2fs': 'e2fsprogs',
  '/usr/sbin/dumpe2fs': 'e2fsprogs',
  '/usr/sbin/mkswap': 'util-linux',
  '/usr/sbin/blkid': 'util-linux',
  '/usr/sbin/mkfs.fat': 'dosfstools',
  '/bin/dash': 'dash',
};
/**
 * The UEFI boot loader of the installed system, from Debian's signed packages: shim as the
 * removable-media loader BOOTX64.EFI and the signed GRUB it loads from its own folder.
 */
const EFI_LOADERS: Record<string, { pkg: string; path: string }> = {
  'BOOTX64.EFI': { pkg: 'shim-signed', path: 'usr/lib/shim/shimx64.efi.signed' },
  'grubx64.efi': { pkg: 'grub-efi-amd64-signed', path: 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed' },
};
/** GRUB legacy's stage files, as grub-legacy ships them. */
export const GRUB_STAGES = ['stage1', 'stage2', 'e2fs_stage1_5'] as const;

/** Everything the e2e run needs from the build. */
export interface GuestArtifacts extends InstallTree {
  /** Cache key: package versions and guest sources. */
  key: string;
  /** Kernel release, e.g. `6.1.0-56-amd64`. */
  kernelVersion: string;
  /** Package name -> version of everything that went in. */
  versions: Record<string, string>;
}

export interface BuildOptions {
  cacheDir?: string;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
}

/** Returns a hash of the guest sources and of this builder, so a change rebuilds. */
function sourcesHash(): string {
  const h = createHash('sha256');
  for (const dir of [GUEST_DIR, BUILD_DIR]) {
    for (const f of readdirSync(dir).sort()) {
      h.update(f).update(readFileSync(join(dir, f)));
    }
  }
  return h.digest('hex');
}

/** Removes every entry of dir except the named ones (old builds and unpacked packages). */
function pruneExcept(dir: string, ...keep: string[]): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) if (!keep.includes(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** Returns the unpacked tree of a package, unpacking it once into the cache. */
function unpacked(cacheDir: string, deb: Deb): string {
  const dir = join(cacheDir, 'unpacked', `${deb.name}_${deb.version.replace(/:/g, '%3a')}`);
  if (!existsSync(join(dir, '.done'))) {
    rmSync(dir, { recursive: true, force: true });
    unpackDeb(deb, dir);
    writeFileSync(join(dir, '.done'), '');
  }
  return dir;
}

/** Returns the guest artifacts, building them unless the cache holds them for the same key. */
export function buildGuestArtifacts(options: BuildOptions = {}): GuestArtifacts {
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = options.log ?? (() => {});
  const kernelPkg = concreteDependency('linux-image-amd64', 'linux-image-');
  const names = [kernelPkg, 'busybox-static', 'grub-legacy', 'libc6-i386', 'shim-signed', 'grub-efi-amd64-signed'];
  const debs = names.map((n) => fetchDeb(join(cacheDir, 'debs'), n));
  const versions: Record<string, string> = {};
  for (const d of debs) versions[d.name] = d.version;
  for (const pkg of new Set(Object.values(HOST_TOOLS))) versions[`host:${pkg}`] = hostVersion(pkg);
  versions['host:libc6'] = hostVersion('libc6');
  const key = createHash('sha256').update(JSON.stringify(versions)).update(sourcesHash()).digest('hex').slice(0, 16);
  const out = join(cacheDir, 'build', key);
  const manifest = join(out, 'artifacts.json');
  if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')) as GuestArtifacts;

  log(`building guest artifacts ${key} (${names.join(', ')})`);
  rmSync(out, { recursive: true, force: true });
  const [kernelRoot, busyboxRoot, grubRoot, libc32Root, shimRoot, grubEfiRoot] = debs.map((d) => unpacked(cacheDir, d));
  const efiRoots: Record<string, string> = { 'shim-signed': shimRoot!, 'grub-efi-amd64-signed': grubEfiRoot! };
  const busybox = join(busyboxRoot, 'bin/busybox');
  const vmlinuz = readdirSync(join(kernelRoot, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`${kernelPkg} has no /boot/vmlinuz-*`);
  const kver = vmlinuz.slice('vmlinuz-'.length);
  const order = loadOrder(readModulesDep(kernelRoot, kver, busybox), GUEST_MODULES);
  const guest = (f: string): string => readFileSync(join(GUEST_DIR, f), 'utf8');
  const grubDir = join(grubRoot, 'usr/lib/grub/x86_64-pc');

  /** Returns a fresh tree with busybox, the modules and the DHCP hook: what every guest image shares. */
  const baseTree = (name: string, skip: string[]): RootTree => {
    const t = new RootTree(join(out, 'work', name));
    t.busybox(busybox, new Set(skip));
    t.write('/usr/share/udhcpc/default.script', guest('udhcpc.script'), 0o755);
    return t;
  };

  log('installer initramfs');
  const inst = baseTree('installer', ['sh', 'sfdisk', 'mke2fs', 'mkswap', 'blkid', 'fdisk', 'init']);
  installModules(inst, kernelRoot, kver, order, busybox);
  inst.charDevice('/dev/console', 5, 1);
  inst.write('/init', guest('installer-init.sh'), 0o755);
  for (const bin of Object.keys(HOST_TOOLS)) inst.hostBinary(bin, bin === '/bin/dash' ? '/bin/sh' : bin);
  inst.link('mke2fs', '/usr/sbin/mkfs.ext3');
  inst.copy('/etc/mke2fs.conf', '/etc/mke2fs.conf');
  inst.copy(join(grubRoot, 'usr/sbin/grub'), '/usr/sbin/grub', 0o755);
  for (const lib of ['ld-linux.so.2', 'libc.so.6']) inst.copy(join(libc32Root, 'lib32', lib), `/lib32/${lib}`, 0o755);
  inst.link('/lib32/ld-linux.so.2', '/lib/ld-linux.so.2');
  for (const s of GRUB_STAGES) inst.copy(join(grubDir, s), `/usr/lib/grub/i386-pc/${s}`);
  const installerInitrd = join(out, 'installer.img');
  inst.packInitramfs(installerInitrd);

  log('installed system: initramfs and root tarball');
  const sysInitrd = baseTree('system-initrd', ['init']);
  installModules(sysInitrd, kernelRoot, kver, order, busybox);
  sysInitrd.charDevice('/dev/console', 5, 1);
  sysInitrd.mkdir('/newroot');
  sysInitrd.write('/init', guest('system-initrd-init.sh'), 0o755);
  const systemInitrd = join(out, 'system-initrd.img');
  sysInitrd.packInitramfs(systemInitrd);

  const root = baseTree('system-root', ['init']);
  root.write('/sbin/init', guest('system-init.sh'), 0o755);
  for (const d of ['/boot/grub', '/etc/kickstand', '/var/log']) root.mkdir(d);
  const rootTarball = join(out, 'root.tar.gz');
  root.packTarball(rootTarball);

  log('install tree and ISO');
  const tree = buildInstallTree(out, {
    kernel: join(kernelRoot, 'boot', vmlinuz),
    installerInitrd,
    systemInitrd,
    rootTarball,
    grubStages: Object.fromEntries(GRUB_STAGES.map((s) => [s, join(grubDir, s)])),
    efiLoaders: Object.fromEntries(Object.entries(EFI_LOADERS).map(([name, l]) => [name, join(efiRoots[l.pkg]!, l.path)])),
  });
  rmSync(join(out, 'work'), { recursive: true, force: true });
  pruneExcept(join(cacheDir, 'build'), key);
  pruneExcept(join(cacheDir, 'unpacked'), ...debs.map((d) => `${d.name}_${d.version.replace(/:/g, '%3a')}`));
  const artifacts: GuestArtifacts = { ...tree, key, kernelVersion: kver, versions };
  mkdirSync(out, { recursive: true });
  writeFileSync(manifest, JSON.stringify(artifacts, null, 2) + '\n');
  return artifacts;
}

// `node --import tsx test/e2e/build/artifacts.ts` builds (or finds) the artifacts and prints them.
if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const a = buildGuestArtifacts({ log: (l) => console.error(l) });
  execFileSync('ls', ['-la', a.treeDir, a.iso], { stdio: 'inherit' });
  console.log(JSON.stringify(a, null, 2));
}
