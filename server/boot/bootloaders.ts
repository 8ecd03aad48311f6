// Boot loaders from the host's Debian packages: PXELINUX and its COM32 modules (pxelinux,
// syslinux-common), iPXE (ipxe), and the Secure Boot chain for UEFI: shim (shim-signed) and the
// signed GRUB network image (grub-efi-amd64-signed; grub-efi-arm64-signed on arm64). Found where
// Debian installs them, under the names clients ask for; any path can be overridden.
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** One boot loader kickstand needs, where Debian puts it, and the package that does. */
export interface BootloaderSpec {
  name: string;
  /** Paths tried in order. */
  candidates: string[];
  /** Debian package that installs it (for the start-up hint). */
  pkg: string;
  /** Named in the start-up warning when missing (x86 loaders); the others only when a client asks for one. */
  startup?: boolean;
}

/** Directory of the BIOS COM32 modules (*.c32) in Debian's syslinux-common. */
export const SYSLINUX_BIOS_MODULES = '/usr/lib/syslinux/modules/bios';

/** The boot loaders PXE booting needs, at their Debian paths. */
export const REQUIRED_BOOTLOADERS: readonly BootloaderSpec[] = Object.freeze([
  { name: 'pxelinux.0', candidates: ['/usr/lib/PXELINUX/pxelinux.0'], pkg: 'pxelinux', startup: true },
  { name: 'ldlinux.c32', candidates: [join(SYSLINUX_BIOS_MODULES, 'ldlinux.c32')], pkg: 'syslinux-common', startup: true },
  { name: 'undionly.kpxe', candidates: ['/usr/lib/ipxe/undionly.kpxe'], pkg: 'ipxe', startup: true },
  { name: 'ipxe.efi', candidates: ['/usr/lib/ipxe/ipxe.efi', '/usr/lib/ipxe/snponly.efi'], pkg: 'ipxe', startup: true },
  { name: 'snponly.efi', candidates: ['/usr/lib/ipxe/snponly.efi'], pkg: 'ipxe', startup: true },
  // Secure Boot: shim (signed by Microsoft's UEFI CA) loads grubx64.efi from its own folder, so the
  // signed GRUB network image is served under that name.
  { name: 'shimx64.efi', candidates: ['/usr/lib/shim/shimx64.efi.signed', '/usr/lib/shim/shimx64.efi.signed.latest'], pkg: 'shim-signed', startup: true },
  { name: 'grubx64.efi', candidates: ['/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'], pkg: 'grub-efi-amd64-signed', startup: true },
  { name: 'shimaa64.efi', candidates: ['/usr/lib/shim/shimaa64.efi.signed', '/usr/lib/shim/shimaa64.efi.signed.latest'], pkg: 'shim-signed (arm64)' },
  { name: 'grubaa64.efi', candidates: ['/usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed'], pkg: 'grub-efi-arm64-signed' },
]);

export interface BootloaderOptions {
  /** name → path, replacing where a name is looked for (or adding a name). */
  overrides?: Readonly<Record<string, string>>;
  /** Where to look by default (tests point these at a temporary tree). */
  required?: readonly BootloaderSpec[];
  /** Directory whose *.c32 files are all offered (menu.c32, chain.c32, ...). */
  modulesDir?: string;
}

/** What was found (name → absolute path) and what was not, with the paths tried. */
export interface Bootloaders {
  found: Record<string, string>;
  missing: Array<{ name: string; tried: string[]; pkg?: string; startup?: boolean }>;
}

// Synchronous: a few dozen stats at start-up cost less than as many thread-pool round trips.
async function isFile(path: string): Promise<boolean> {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Returns the boot loaders present on this host, and the list of those missing. */
export async function findBootloaders(o: BootloaderOptions = {}): Promise<Bootloaders> {
  const found: Record<string, string> = {};
  const missing: Bootloaders['missing'] = [];
  const modulesDir = o.modulesDir ?? SYSLINUX_BIOS_MODULES;
  try {
    for (const entry of (await readdir(modulesDir)).sort()) {
      const path = join(modulesDir, entry);
      if (entry.endsWith('.c32') && (await isFile(path))) found[entry] = path;
    }
  } catch {
    /* no modules directory: ldlinux.c32 shows up as missing below */
  }
  const overrides = o.overrides ?? {};
  const specs = [...(o.required ?? REQUIRED_BOOTLOADERS)];
  for (const name of Object.keys(overrides)) {
    if (!specs.some((s) => s.name === name)) specs.push({ name, candidates: [], pkg: '' });
  }
  for (const spec of specs) {
    const override = overrides[spec.name];
    const tried = override !== undefined ? [override] : spec.candidates;
    const hit = await firstFile(tried);
    if (hit) {
      found[spec.name] = hit;
    } else {
      delete found[spec.name]; // an override that is missing wins over a module found by scanning
      missing.push({ name: spec.name, tried, ...(override === undefined && spec.pkg ? { pkg: spec.pkg } : {}), ...(spec.startup || override !== undefined ? { startup: true } : {}) });
    }
  }
  return { found, missing };
}

async function firstFile(paths: readonly string[]): Promise<string | null> {
  for (const p of paths) if (await isFile(p)) return p;
  return null;
}

/** Returns one log-ready line naming each missing boot loader, where it was looked for and what installs it; '' when none is missing. */
export function describeMissing(missing: Bootloaders['missing']): string {
  return missing
    .map((m) => `${m.name} (looked in ${m.tried.join(', ') || 'nowhere'}${m.pkg ? `; Debian package ${m.pkg}` : ''})`)
    .join('; ');
}
